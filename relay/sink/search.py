"""The inbox's search language, Mailpit's where it fits, turned into an SQLite FTS5 query.

    alice invoice            messages with both words (anywhere: sender, recipients, subject,
                             body), each also as the start of a longer word
    "reset your password"    the phrase
    from:alice@example.org   envelope sender or From header;  to: recipients (envelope, To, Cc)
    subject:"welcome aboard" the subject
    -word  !word             without it (works with the prefixes too: -from:noreply)
    is:read  is:unread  has:attachment

Nothing a person types reaches FTS5 as syntax: every term is a quoted phrase, so an
operator, a bracket or a stray quote in it is just text.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

COLUMNS = {"from": "sender", "to": "recipients", "subject": "subject"}
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Search:
    fts: str = ""              # FTS5 expression the messages must match ("" = any)
    fts_excluded: str = ""     # FTS5 expression they must not match ("" = none excluded)
    read: bool | None = None
    has_attachment: bool | None = None


def parse_search(query: str) -> Search:
    included, excluded = [], []
    read = has_attachment = None
    for term in _terms(query):
        negated = term[:1] in ("-", "!") and len(term) > 1
        if negated:
            term = term[1:]
        prefix, colon, value = term.partition(":")
        prefix = prefix.lower()
        if colon and prefix == "is" and value.lower() in ("read", "unread"):
            read = (value.lower() == "read") != negated
            continue
        if colon and prefix == "has" and value.lower() in ("attachment", "attachments"):
            has_attachment = not negated
            continue
        column = COLUMNS.get(prefix) if colon else None
        phrase = _phrase(value if column else term)
        if phrase is None:
            continue   # nothing searchable in it, e.g. "@" or "--"
        (excluded if negated else included).append(f"{column} : {phrase}" if column else phrase)
    return Search(" AND ".join(included), " OR ".join(excluded), read, has_attachment)


def _terms(query: str) -> list[str]:
    """Words and quoted phrases, as a shell would split them; an unbalanced quote is text."""
    try:
        return shlex.split(query)
    except ValueError:
        return query.replace('"', " ").replace("'", " ").split()


def _phrase(text: str) -> str | None:
    """`text` as an FTS5 phrase that also matches a longer last word (alice -> alice*)."""
    if not _WORD.search(text):
        return None
    return '"' + text.replace('"', '""') + '"*'
