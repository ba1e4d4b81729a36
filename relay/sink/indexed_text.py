"""What the inbox's index keeps of one message: its envelope, decoded header, a snippet and the
words of its body (the text part, else the HTML part made text), read through message_view so
the index and the page decode a message the same way."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from relay.sink.maildir import StoredMessage
from relay.sink.message_view import view

BODY_CAP = 256 * 1024   # characters of body indexed: enough for any mail a person reads
SNIPPET = 160
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class IndexedText:
    envelope_from: str
    envelope_to: tuple[str, ...]
    from_header: str
    to_header: str
    subject: str
    snippet: str
    body: str
    attachments: int


def indexed_text(stored: StoredMessage) -> IndexedText:
    shown = view(stored)
    body = shown.text if shown.text is not None else _html_words(shown.html or "")
    cc = next((value for name, value in shown.headers if name.lower() == "cc"), "")
    return IndexedText(
        envelope_from=stored.sender,
        envelope_to=stored.recipients,
        from_header=shown.summary.sender,
        to_header=", ".join(filter(None, (shown.summary.recipients, cc))),
        subject=shown.summary.subject,
        snippet=" ".join(body[:SNIPPET * 4].split())[:SNIPPET],
        body=body[:BODY_CAP],
        attachments=len(shown.attachments),
    )


def _html_words(markup: str) -> str:
    return html.unescape(_TAG.sub(" ", markup[:BODY_CAP * 4]))
