"""A stored message made readable: its header decoded, its text and HTML parts, its attachments.

Parses with the stdlib `email` package (policy.default): RFC 2047 words, quoted-printable,
base64 and charsets are decoded here, so the web inbox (relay/sink/inbox.py) only escapes and shows.
Trusts nothing: a header the parser cannot read is shown as it came, an unknown charset is
read as UTF-8 with replacement characters, a header or an attachment's name is one line
(its line breaks spaces), and nothing here ever returns markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from relay.sink.maildir import StoredMessage
from spooler.envelope import single_line
from spooler.names import printable


@dataclass(frozen=True)
class Summary:
    """What a listing shows of one message."""
    sender: str
    recipients: str
    subject: str


@dataclass(frozen=True)
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageView:
    summary: Summary
    date: str
    headers: list[tuple[str, str]]
    text: str | None          # the text/plain body, decoded
    html: str | None          # the text/html body, decoded: only ever served sandboxed
    attachments: list[Attachment] = field(default_factory=list)


def parse(content: bytes, headers_only: bool = False) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(content, headersonly=headers_only)


def summary(stored: StoredMessage) -> Summary:
    """From, To and Subject of a message (its header alone is read); the envelope stands in for
    a From or To the message lacks."""
    message = parse(stored.content, headers_only=True)
    return _summary(message, stored)


def view(stored: StoredMessage) -> MessageView:
    message = parse(stored.content)
    text_part, html_part = _body(message, "plain"), _body(message, "html")
    return MessageView(
        summary=_summary(message, stored),
        date=header(message, "Date"),
        headers=[(name, _decoded_header(message, name, value)) for name, value in message.raw_items()],
        text=_decoded(text_part) if text_part is not None else None,
        html=_decoded(html_part) if html_part is not None else None,
        attachments=[_attachment(i, part)
                     for i, part in enumerate(_attachments(message, text_part, html_part))],
    )


def attachment(stored: StoredMessage, index: int) -> tuple[Attachment, bytes] | None:
    """The index-th of view(stored).attachments and its bytes (base64 undone), or None."""
    message = parse(stored.content)
    parts = _attachments(message, _body(message, "plain"), _body(message, "html"))
    if not 0 <= index < len(parts):
        return None
    return _attachment(index, parts[index]), payload_bytes(parts[index])


def header(message: EmailMessage, name: str) -> str:
    """All of a header's values, decoded, joined by ", "; "" when it is absent."""
    return ", ".join(_decoded_header(message, raw_name, value)
                     for raw_name, value in message.raw_items() if raw_name.lower() == name.lower())


def _summary(message: EmailMessage, stored: StoredMessage) -> Summary:
    return Summary(
        sender=header(message, "From") or (f"<{stored.sender}>" if stored.sender else "<>"),
        recipients=header(message, "To") or ", ".join(f"<{r}>" for r in stored.recipients),
        subject=header(message, "Subject"),
    )


def _decoded_header(message: EmailMessage, name: str, value: str) -> str:
    try:
        decoded = str(message.policy.header_fetch_parse(name, value))
    except Exception:  # the stdlib header parser has raised on hostile input: show it as it came
        decoded = value
    return _printable(" ".join(decoded.split()))


def _attachments(message: EmailMessage, *bodies: EmailMessage | None) -> list[EmailMessage]:
    """Every leaf part but the text and HTML bodies shown: files, inline images, other texts."""
    shown = {id(b) for b in bodies if b is not None}
    return [p for p in message.walk() if not p.is_multipart() and id(p) not in shown]


def _attachment(index: int, part: EmailMessage) -> Attachment:
    return Attachment(index, _filename(part), part.get_content_type(), len(payload_bytes(part)))


def _filename(part: EmailMessage) -> str:
    """The part's file name on one line: every line break (CR, LF, U+2028, an RFC 2231 or 2047
    encoded one) a space and any other control character escaped, so that it can stand in a
    page and in the download's Content-Disposition header."""
    try:
        return printable(single_line(_printable(part.get_filename() or "")))
    except Exception:  # as for headers: a hostile Content-Disposition must not break the page
        return ""


def _body(message: EmailMessage, subtype: str) -> EmailMessage | None:
    try:
        return message.get_body(preferencelist=(subtype,))
    except (KeyError, ValueError):  # a malformed multipart
        return None


def _decoded(part: EmailMessage) -> str:
    try:
        return _printable(part.get_content())
    except (LookupError, ValueError, AttributeError):  # an unknown charset, a broken encoding
        return payload_bytes(part).decode("utf-8", "replace")


def payload_bytes(part: EmailMessage) -> bytes:
    """A leaf part's body, its transfer encoding (base64, quoted-printable) undone."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _printable(text: str) -> str:
    """The text with the parser's stand-ins for undecodable bytes made replacement characters,
    so that it can be sent as UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
