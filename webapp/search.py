"""Full-text search over questions (title and body), in the database's own engine.

SQLite: the FTS5 table questions_fts (porter stemming), kept in step with questions by
triggers (migration 0004). PostgreSQL: to_tsvector('english', title || ' ' || body) behind
a GIN expression index, queried with plainto_tsquery. Either way the words a member types
are all required (AND), punctuation and FTS operators are ignored, results are newest first
and paged by keyset (`before`), like every list. Never LIKE '%word%'.
"""

from __future__ import annotations

import re

from sqlalchemy import text

from webapp.extensions import db
from webapp.listing import PAGE_SIZE, Page, questions_by_ids

MAX_WORDS = 10
_SQLITE = text(
    "SELECT f.rowid FROM questions_fts AS f JOIN questions AS q ON q.id = f.rowid "
    "WHERE questions_fts MATCH :match AND f.rowid < :before "
    "AND q.hidden_at IS NULL AND q.deleted_at IS NULL ORDER BY f.rowid DESC LIMIT :limit")
_POSTGRESQL = text(
    "SELECT id FROM questions WHERE to_tsvector('english', title || ' ' || body_source) "
    "@@ plainto_tsquery('english', :words) AND id < :before "
    "AND hidden_at IS NULL AND deleted_at IS NULL ORDER BY id DESC LIMIT :limit")
NO_LIMIT = 2**62


def words_of(query: str) -> list[str]:
    return re.findall(r"\w+", query.lower())[:MAX_WORDS]


def search(query: str, before: int | None = None, size: int = PAGE_SIZE) -> Page:
    words = words_of(query)
    if not words:
        return Page([], None)
    values = {"before": before if before is not None else NO_LIMIT, "limit": size + 1}
    if db.engine.dialect.name == "postgresql":
        ids = db.session.execute(_POSTGRESQL, {**values, "words": " ".join(words)}).scalars().all()
    else:
        # Each word quoted: a phrase of one word, so nothing typed is read as an FTS operator.
        match = " ".join(f'"{w}"' for w in words)
        ids = db.session.execute(_SQLITE, {**values, "match": match}).scalars().all()
    more = len(ids) > size
    return Page(questions_by_ids(ids[:size]), ids[size - 1] if more else None)
