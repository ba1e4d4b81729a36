"""The words of a member's reply: what they wrote above the quoted notification, as the
Markdown to post, and how many attachments were left out.

reply_text() takes the message's text/plain body, or its text/html one made text by
inscriptis (paragraphs, lists and tables laid out, links kept as Markdown links, no HTML
parsed here), and cuts what follows the member's words with mail-parser-reply: a quote
header ("On ... wrote:" of Gmail and Thunderbird, Apple Mail's "On ..., at ..., ... wrote:",
Outlook's "From: ... Sent: ..." block and "-----Original Message-----", the same in the
other languages the library knows), a "-- " signature, "Sent from my ...". A reply that
opens with the quote (nothing written above it) is empty. The library strips every line;
the member's own lines are given back as typed when they can be matched, so indented code
stays code. Attachments are never posted; ReplyText.post() ends with a note saying how many.
Trusts nothing: an unknown charset is read as UTF-8 with replacement characters, and a part
is read up to MAX_PART_CHARS characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.parser import EmailMessage as ParsedReply

MAX_PART_CHARS = 200_000   # the member writes on top: past this is quoted history (and slow to read)
_HTML_AS_TEXT = ParserConfig(display_links=True)
_LANGUAGES = sorted(MAIL_LANGUAGES)   # a member's mail program writes its quote header in theirs


@dataclass(frozen=True)
class ReplyText:
    words: str           # what the member wrote, without the quote and the signature
    attachments: int     # parts that were not posted

    def post(self) -> str:
        """The body to post: the words, and a note when attachments were left out."""
        if not self.attachments:
            return self.words
        plural = "s" if self.attachments > 1 else ""
        return f"{self.words}\n\n({self.attachments} attachment{plural} not posted)"


def reply_text(message: EmailMessage) -> ReplyText:
    """The member's words in `message`, and how many of its parts are attachments."""
    attachments = sum(1 for _part in message.iter_attachments())
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ReplyText("", attachments)
    text = _content(body)
    if body.get_content_subtype() == "html":
        return ReplyText(latest_reply(get_text(text, _HTML_AS_TEXT)), attachments)
    return ReplyText(as_typed(text, latest_reply(text)), attachments)


def latest_reply(text: str) -> str:
    """`text` up to its first quote header or signature, each line stripped (the library's
    reading); "" when it opens with the quote."""
    parsed = ParsedReply(text=text, languages=list(_LANGUAGES), keep_hyphen_lists=True).read()
    first = parsed.replies[0]
    return "" if first.headers else first.body


def as_typed(text: str, reply: str) -> str:
    """The member's own lines of `text` that `reply` (its stripped start) came from, with their
    indentation; `reply` itself when they do not line up (a disclaimer taken out of the middle)."""
    if not reply:
        return ""
    lines = text.replace("\r\n", "\n").split("\n")
    stripped = [line.strip() for line in lines]
    start = next(i for i, line in enumerate(stripped) if line)
    kept = reply.split("\n")
    if stripped[start:start + len(kept)] != kept:
        return reply
    return "\n".join(line.rstrip() for line in lines[start:start + len(kept)])


def _content(part: EmailMessage) -> str:
    try:
        text = part.get_content()
    except (LookupError, UnicodeError):   # a charset Python does not know
        text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return text[:MAX_PART_CHARS]
