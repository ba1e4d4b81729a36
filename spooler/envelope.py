"""The pickup file format, both ways: envelope lines on write, envelope and wire bytes on read.

A pickup file is an RFC 5322 message, optionally preceded by IIS-style
`X-Sender:` / `X-Receiver:` lines (one X-Receiver per recipient). Without them
the envelope comes from Sender/From and To/Cc/Bcc, like `sendmail -t`.
Reading strips the envelope lines and Bcc; the rest goes out byte for byte,
with line ends made CRLF. The priority class lives in the file *name*
(`ID.eml` transactional, `ID.bulk.eml` bulk), so ordering needs no open().
Raises MalformedMessage, with a reason a person can act on, for anything
that cannot be sent: empty, not a header block, no sender, no recipients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

TRANSACTIONAL = "transactional"
BULK = "bulk"
PRIORITIES = (TRANSACTIONAL, BULK)

# Anything that could end a header line or smuggle one in, in any form.
_LINE_BREAKERS = re.compile("[\r\n\0\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_HEADER_NAME = re.compile(rb"^[!-9;-~]+:")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LONE_LF = re.compile(rb"(?<!\r)\n")
_ADDRESS = re.compile(r"^[^\s<>(),;:\"\[\]\\@]+@[^\s<>(),;:\"\[\]\\@]+$")


class MalformedMessage(ValueError):
    """The file cannot be sent as it is; str() says why."""


class UnsafeHeaderError(ValueError):
    """A header value or address would break out of its header line."""


@dataclass(frozen=True)
class ParsedMessage:
    sender: str                   # envelope MAIL FROM ("" is the null sender)
    recipients: tuple[str, ...]   # envelope RCPT TO, de-duplicated, in order
    content: bytes                # what goes on the wire: no envelope lines, no Bcc, CRLF

    @property
    def needs_smtputf8(self) -> bool:
        return not (self.sender.isascii() and all(r.isascii() for r in self.recipients))

    @property
    def needs_8bitmime(self) -> bool:
        return not self.content.isascii()


def check_header_value(value: str, what: str = "header value") -> str:
    """Return `value` unchanged, or raise if it holds a line break of any kind."""
    if _LINE_BREAKERS.search(value):
        raise UnsafeHeaderError(f"{what} contains a line break or control character: {value!r}")
    return value


def single_line(text: str) -> str:
    """User text made safe for a header: every line break becomes a space."""
    return " ".join(_LINE_BREAKERS.sub(" ", text).split())


def check_address(address: str, what: str = "address") -> str:
    """Return a bare address (local@domain) or raise UnsafeHeaderError."""
    check_header_value(address, what)
    if not _ADDRESS.fullmatch(address):
        raise UnsafeHeaderError(f"{what} {address!r} is not an address like name@example.com")
    return address


def envelope_lines(sender: str, recipients: list[str] | tuple[str, ...]) -> bytes:
    """The X-Sender / X-Receiver block written at the top of a pickup file."""
    if not recipients:
        raise UnsafeHeaderError("a message needs at least one recipient")
    if sender:
        check_address(sender, "envelope sender")
    lines = [f"X-Sender: <{sender}>\r\n"]
    for rcpt in recipients:
        lines.append(f"X-Receiver: <{check_address(rcpt, 'envelope recipient')}>\r\n")
    return "".join(lines).encode("utf-8")


def pickup_name(queue_id: str, priority: str = TRANSACTIONAL) -> str:
    """File name under which a message of this class appears in pickup."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {PRIORITIES}, not {priority!r}")
    return f"{queue_id}.eml" if priority == TRANSACTIONAL else f"{queue_id}.{BULK}.eml"


def priority_of(name: str) -> str:
    """The class a pickup or queue file name carries (hand-dropped files are transactional)."""
    return BULK if name.endswith(f".{BULK}.eml") else TRANSACTIONAL


def parse_pickup(data: bytes) -> ParsedMessage:
    """Read a pickup file's bytes into envelope + wire content, or raise MalformedMessage."""
    if not data.strip():
        raise MalformedMessage("empty file: no headers, no body")
    x_sender, x_receivers, offset = _read_envelope_lines(data)
    message = data[offset:]
    split = _BLANK_LINE.search(message)
    if split:
        head, sep, body = (message[: split.start()], message[split.start() : split.end()],
                           message[split.end() :])
    else:  # headers only, no body: legal, give it the empty line it lacks
        head, sep, body = message.rstrip(b"\r\n"), b"\r\n\r\n", b""
    fields = _header_fields(head)
    if not fields:
        raise MalformedMessage("no header lines after the envelope")
    # The header parser is the costly part: only files without a full envelope need it.
    headers = None
    if x_sender is None or not x_receivers:
        headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\n\n")
    sender = x_sender if x_sender is not None else _header_sender(headers)
    if x_receivers:
        recipients = x_receivers
    else:
        recipients = _header_addresses(headers, ("To", "Cc", "Bcc"))
    if not recipients:
        raise MalformedMessage("no recipients: no X-Receiver line and no address in To, Cc or Bcc")
    recipients = tuple(dict.fromkeys(recipients))

    kept = b"".join(f for f in fields if not f[:4].lower() == b"bcc:")
    content = kept.rstrip(b"\r\n") + sep + body
    if content.count(b"\n") != content.count(b"\r\n"):
        content = _LONE_LF.sub(b"\r\n", content)
    return ParsedMessage(sender=sender, recipients=recipients, content=content)


def read_envelope(head: bytes) -> tuple[str, tuple[str, ...]]:
    """(sender, recipients) of a pickup file from its first bytes: the X-Sender/X-Receiver
    lines when both are there (no header parsing), else as parse_pickup() finds them."""
    x_sender, x_receivers, _offset = _read_envelope_lines(head)
    if x_sender is not None and x_receivers:
        return x_sender, tuple(dict.fromkeys(x_receivers))
    parsed = parse_pickup(head)
    return parsed.sender, parsed.recipients


def _read_envelope_lines(data: bytes) -> tuple[str | None, list[str], int]:
    sender: str | None = None
    receivers: list[str] = []
    offset = 0
    while True:
        end = data.find(b"\n", offset)
        if end < 0:
            break
        line = data[offset:end].rstrip(b"\r")
        name, colon, value = line.partition(b":")
        lname = name.lower()
        if not colon or lname not in (b"x-sender", b"x-receiver"):
            break
        address = _envelope_address(value, lname.decode())
        if lname == b"x-sender":
            sender = address
        elif address:
            receivers.append(address)
        offset = end + 1
    return sender, receivers, offset


def _envelope_address(raw: bytes, what: str) -> str:
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise MalformedMessage(f"{what} line is not valid UTF-8: {raw[:60]!r}") from None
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text and not _ADDRESS.fullmatch(text):
        raise MalformedMessage(f"{what} {text!r} is not an address like name@example.com")
    return text


def _header_fields(head: bytes) -> list[bytes]:
    """Split a header block into whole fields (with their continuation lines), validating."""
    fields: list[bytes] = []
    for number, line in enumerate(head.splitlines(keepends=True), start=1):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        elif _HEADER_NAME.match(line):
            fields.append(line)
        else:
            raise MalformedMessage(
                f"header line {number} is not a header (Name: value): {line.rstrip()[:60]!r}"
            )
        if not line.endswith(b"\n"):
            fields[-1] += b"\r\n"
        if b"\0" in line:
            raise MalformedMessage(f"header line {number} contains a NUL byte")
    return fields


def _header_sender(headers) -> str:
    for name in ("Sender", "From"):
        found = _header_addresses(headers, (name,))
        if found:
            return found[0]
    raise MalformedMessage("no sender: no X-Sender line and no address in Sender or From")


def _header_addresses(headers, names: tuple[str, ...]) -> list[str]:
    values = [str(v) for name in names for v in headers.get_all(name, [])]
    found = []
    for _display, address in getaddresses(values):
        if not address:
            continue
        if not _ADDRESS.fullmatch(address):
            raise MalformedMessage(f"{address!r} in {'/'.join(names)} is not an address")
        found.append(address)
    return found
