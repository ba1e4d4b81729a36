"""Whether a message looks cut short: the signs its own structure gives that its end is missing.

A file copied by hand into pickup (`cp`, `scp`, an editor) that stops half-way, on a
full disk or a dropped connection, stands still like a whole one: the settle rule
(relay.daemon.watch) cannot tell them apart, and the smart host would carry it.
spooler.envelope.parse_pickup() asks truncation() about every whole file it reads (the
relay's attempt, `relay drop`, `relay sendmail`) and refuses what it names with
TruncatedMessage ("looks truncated: ..."): the relay puts it in badmail, never sends it.

Two signs, both read from the bytes, no MIME parse (the relay reads thousands of files a
second): a top-level multipart (Content-Type: multipart/...; boundary=B) whose body opens
a part (a line `--B`) but has no closing delimiter line `--B--` (RFC 2046 5.1.1: every
writer puts it last, so a cut anywhere after the first part's start loses it); a
single-part base64 body (Content-Transfer-Encoding: base64) whose base64 characters are
not a multiple of 4 (RFC 2045 6.8: padding makes every whole body one). A message with
neither (plain text, quoted-printable) gives no sign and is never refused; nor does a
"multipart" body with no delimiter at all (a hand-made test message), or a boundary
parameter it cannot read (empty, an unclosed quote, split by RFC 2231): a doubt never
refuses a message.
"""

from __future__ import annotations

import re

_BOUNDARY = re.compile(rb';\s*boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))', re.IGNORECASE)
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_WHITESPACE = b" \t\r\n"
SHOWN = 70   # characters of a boundary a reason shows (RFC 2046's longest)


def truncation(fields: list[bytes], body: bytes) -> str | None:
    """Why the message with these header fields (whole, CRLF line ends, as
    spooler.envelope reads them) and this body looks cut short; None when it does not."""
    content_type = _value(fields, b"content-type:")
    if content_type is not None and content_type.lstrip()[:10].lower() == b"multipart/":
        boundary = _boundary(content_type)
        if boundary is None or not _starts_line(body, b"--" + boundary) \
                or _starts_line(body, b"--" + boundary + b"--"):
            return None
        shown = boundary[:SHOWN].decode("ascii", "replace")
        return (f"its multipart body has no closing boundary line --{shown}-- "
                "(cut short while it was copied?)")
    encoding = _value(fields, b"content-transfer-encoding:")
    if encoding is not None and encoding.strip().lower() == b"base64":
        length = len(body.translate(None, _WHITESPACE))
        if length % 4:
            return (f"its base64 body has {length:,} characters, and a whole one has a "
                    "multiple of 4 (cut short while it was copied?)")
    return None


def _value(fields: list[bytes], name: bytes) -> bytes | None:
    """The first field called `name` (lowercase, with its colon), unfolded, without its name."""
    size = len(name)
    for field in fields:
        if field[:size].lower() == name:
            return _FOLD.sub(b"", field[size:])
    return None


def _boundary(content_type: bytes) -> bytes | None:
    found = _BOUNDARY.search(content_type)
    return (found.group(1) or found.group(2)) if found else None


def _starts_line(body: bytes, text: bytes) -> bool:
    """Whether a line of the body starts with `text` (looked for from the end: the close
    delimiter is the last line of a whole multipart, the first one among the first lines)."""
    return body.startswith(text) or body.rfind(b"\r\n" + text) >= 0
