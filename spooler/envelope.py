"""The pickup file format, both ways: envelope lines on write, envelope and wire bytes on read.

A pickup file is an RFC 5322 message, optionally preceded by IIS-style
`X-Sender:` / `X-Receiver:` lines (one X-Receiver per recipient). Without them
the envelope comes from Sender/From and To/Cc/Bcc, like `sendmail -t`.
Reading strips the envelope lines and Bcc; the rest goes out byte for byte,
except for what SMTP cannot carry as it is (the wire rules, made here once):
  - every line end is CRLF: a bare CR and a bare LF each count as a line end
    and become CRLF, for the envelope, the headers and the body alike, so what
    is parsed is what is sent and a dot between bare CRs cannot end DATA early;
  - a NUL byte anywhere refuses the file (MalformedMessage, hence badmail);
  - a line over 998 bytes (RFC 5322) is folded as Postfix does with
    smtp_line_length_limit = 998: before its last space or tab that fits,
    else after 998 bytes (never inside a UTF-8 character) with a space added.
Dot-stuffing comes after all this, in relay/smtp/client.py. The priority class
lives in the file *name* (`ID.eml` transactional, `ID.bulk.eml` bulk), so
ordering needs no open(). Raises MalformedMessage, with a reason a person
can act on, for anything that cannot be sent: empty, NUL, not a header
block, no sender, no recipients; and its TruncatedMessage for a whole file
whose structure shows its end is missing (spooler.truncation: "looks truncated").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from spooler.truncation import truncation

# Anything that could end a header line or smuggle one in, in any form.
_LINE_BREAKERS = re.compile("[\r\n\0\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_HEADER_NAME = re.compile(rb"^[!-9;-~]+:")
_LINE_END = re.compile(rb"\r\n|\r|\n")   # the one reading of a line end (as bytes.splitlines)
MAX_LINE = 998                            # bytes before CRLF (RFC 5322 2.1.1)
# A line after the first that is too long: once line ends are CRLF, a CR only ends a line
# (and [^\r] runs far faster than [^\r\n]).
_LONG_LINE = re.compile(rb"\n[^\r]{%d}" % (MAX_LINE + 1))
_ADDRESS = re.compile(r"^[^\s<>(),;:\"\[\]\\@]+@[^\s<>(),;:\"\[\]\\@]+$")


class MalformedMessage(ValueError):
    """The file cannot be sent as it is; str() says why."""


class TruncatedMessage(MalformedMessage):
    """The file's own structure shows it was cut short (spooler.truncation); str() says how."""


class UnsafeHeaderError(ValueError):
    """A header value or address would break out of its header line."""


@dataclass(frozen=True)
class ParsedMessage:
    sender: str                   # envelope MAIL FROM ("" is the null sender)
    recipients: tuple[str, ...]   # envelope RCPT TO, de-duplicated, in order
    content: bytes                # the wire bytes before dot-stuffing: no envelope lines, no Bcc,
                                  # CRLF line ends only, no NUL, no line over MAX_LINE

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


def parse_pickup(data: bytes, whole: bool = True) -> ParsedMessage:
    """Read a pickup file's bytes into envelope + wire content, or raise MalformedMessage
    (TruncatedMessage when it looks cut short; whole=False: `data` is only the file's start)."""
    if not data or data.isspace():   # not strip(): a copy of the whole message
        raise MalformedMessage("empty file: no headers, no body")
    data, long_lines = _wire_lines(data)
    x_sender, x_receivers, message = split_envelope_lines(data)
    split = message.find(b"\r\n\r\n")
    if split >= 0:
        head, sep, body = message[:split], b"\r\n\r\n", message[split + 4 :]
    else:  # headers only, no body: legal, give it the empty line it lacks
        head, sep, body = message.rstrip(b"\r\n"), b"\r\n\r\n", b""
    fields = _header_fields(head)
    if not fields:
        raise MalformedMessage("no header lines after the envelope")
    if whole and (cut := truncation(fields, body)) is not None:
        raise TruncatedMessage(f"looks truncated: {cut}")
    # The header parser is the costly part: only files without a full envelope need it.
    headers = None
    if x_sender is None or not x_receivers:
        headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\n\n")
    sender, recipients = x_sender, x_receivers
    if headers is not None:
        from_headers, to_headers = header_envelope(headers)
        if sender is None:
            if from_headers is None:
                raise MalformedMessage("no sender: no X-Sender line and no address in Sender or From")
            sender = from_headers
        recipients = recipients or to_headers
    if not recipients:
        raise MalformedMessage("no recipients: no X-Receiver line and no address in To, Cc or Bcc")
    recipients = tuple(dict.fromkeys(recipients))

    kept = b"".join(f for f in fields if not f[:4].lower() == b"bcc:")
    content = kept.rstrip(b"\r\n") + sep + body
    if long_lines:  # folded after parsing: the envelope comes from the lines as written
        content = b"\r\n".join(_folded(line) if len(line) > MAX_LINE else line
                                for line in content.split(b"\r\n"))
    return ParsedMessage(sender=sender, recipients=recipients, content=content)


def read_envelope(head: bytes) -> tuple[str, tuple[str, ...]]:
    """(sender, recipients) of a pickup file from its first bytes: the X-Sender/X-Receiver
    lines when both are there (no header parsing), else as parse_pickup() finds them."""
    x_sender, x_receivers, _rest = split_envelope_lines(head)
    if x_sender is not None and x_receivers:
        return x_sender, tuple(dict.fromkeys(x_receivers))
    parsed = parse_pickup(head, whole=False)
    return parsed.sender, parsed.recipients


def split_envelope_lines(data: bytes) -> tuple[str | None, list[str], bytes]:
    """(X-Sender, X-Receivers, the bytes after them) from the top of a pickup file.

    X-Sender is None when there is none ("" is the null sender <>). Raises
    MalformedMessage when an envelope line does not hold an address.
    """
    lines, offset = _envelope_block(data)
    sender: str | None = None
    receivers: list[str] = []
    for name, value in lines:
        address = _envelope_address(value, name.decode())
        if name == b"x-sender":
            sender = address
        elif address:
            receivers.append(address)
    return sender, receivers, data[offset:]


def strip_envelope_lines(data: bytes) -> tuple[bytes, int]:
    """`data` without the X-Sender/X-Receiver lines at its top, whatever they hold,
    and how many there were."""
    lines, offset = _envelope_block(data)
    return data[offset:], len(lines)


def _envelope_block(data: bytes) -> tuple[list[tuple[bytes, bytes]], int]:
    """The leading X-Sender/X-Receiver lines as (lowercase name, raw value), and where they end.

    Lines end as _LINE_END reads them (CRLF, a bare CR, a bare LF), on raw bytes too.
    """
    lines: list[tuple[bytes, bytes]] = []
    offset = 0
    while True:
        lf = data.find(b"\n", offset)
        cr = data.find(b"\r", offset, lf if lf >= 0 else len(data))
        if cr >= 0:
            end, after = cr, cr + 2 if data[cr + 1 : cr + 2] == b"\n" else cr + 1
        elif lf >= 0:
            end, after = lf, lf + 1
        else:
            break
        name, colon, value = data[offset:end].partition(b":")
        name = name.lower()
        if not colon or name not in (b"x-sender", b"x-receiver"):
            break
        lines.append((name, value))
        offset = after
    return lines, offset


def crlf_lines(data: bytes) -> bytes:
    """`data` with every line end (CRLF, a bare CR, a bare LF) made CRLF, as SMTP carries them."""
    crlf = data.count(b"\r\n")
    if data.count(b"\r") != crlf or data.count(b"\n") != crlf:
        return _LINE_END.sub(b"\r\n", data)
    return data


def _wire_lines(data: bytes) -> tuple[bytes, bool]:
    """`data` with every line end CRLF, and whether a line is over MAX_LINE; refuses NUL."""
    nul = data.find(b"\0")
    if nul >= 0:
        line = len(_LINE_END.findall(data, 0, nul)) + 1
        raise MalformedMessage(f"line {line} contains a NUL byte, which SMTP cannot carry (a binary "
                               "file?): remove it, or attach binary data base64-encoded")
    # The common case (CRLF already, short lines) is three counts and two searches, all in C.
    data = crlf_lines(data)
    first = data.find(b"\r\n")
    long_lines = (first if first >= 0 else len(data)) > MAX_LINE or bool(_LONG_LINE.search(data))
    return data, long_lines


def _folded(line: bytes) -> bytes:
    """A line over MAX_LINE as several, as Postfix's smtp_line_length_limit breaks it.

    Each cut goes before the last space or tab that fits, which is RFC 5322 folding
    (nothing added); a stretch without one is cut after MAX_LINE bytes, back to the
    start of a UTF-8 character, and the rest starts with an added space.
    """
    pieces = []
    start, lead = 0, b""
    while len(lead) + len(line) - start > MAX_LINE:
        limit = start + MAX_LINE - len(lead)   # the piece is lead + line[start:cut], cut <= limit
        cut = max(line.rfind(b" ", start + 1, limit + 1), line.rfind(b"\t", start + 1, limit + 1))
        if cut > start:
            pieces.append(lead + line[start:cut])
            start, lead = cut, b""
        else:
            cut = limit
            while cut > limit - 3 and 0x80 <= line[cut] < 0xC0:  # a UTF-8 continuation byte
                cut -= 1
            pieces.append(lead + line[start:cut])
            start, lead = cut, b" "
    pieces.append(lead + line[start:])
    return b"\r\n".join(pieces)


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
    return fields


def header_envelope(headers) -> tuple[str | None, list[str]]:
    """The envelope `sendmail -t` reads from headers (a Message or EmailMessage): the sender
    is the first address in Sender, else From (None if neither has one); the recipients are
    every address in To, Cc and Bcc, de-duplicated. The one implementation of that rule:
    pickup files without envelope lines, `relay sendmail -t` and PickupWriter all use it.
    Raises MalformedMessage for a header address that is not one."""
    sender = next((found[0] for name in ("Sender", "From")
                   if (found := _header_addresses(headers, (name,)))), None)
    return sender, list(dict.fromkeys(_header_addresses(headers, ("To", "Cc", "Bcc"))))


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
