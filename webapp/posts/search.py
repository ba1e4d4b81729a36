"""Full-text search over questions or articles (title and body), in the database's own engine.

SQLite: the FTS5 tables questions_fts and articles_fts (porter stemming), kept in step by
triggers (migrations 0004 and 0005). PostgreSQL: to_tsvector('english', title || ' ' ||
body) behind a GIN expression index per table, queried with plainto_tsquery. Either way
the words a member types are all required (AND), punctuation and FTS operators are
ignored, results are newest first and paged by keyset (`before`), like every list.
Never LIKE '%word%'.
"""

from __future__ import annotations

import re

from sqlalchemy import text

from webapp.posts.listing import PAGE_SIZE, Page, articles_by_ids, questions_by_ids
from webapp.site.extensions import db

MAX_WORDS = 10
SEARCHABLE = {"questions": questions_by_ids, "articles": articles_by_ids}
NO_LIMIT = 2**62


def _sqlite(table: str):
    return text(
        f"SELECT f.rowid FROM {table}_fts AS f JOIN {table} AS p ON p.id = f.rowid "
        f"WHERE {table}_fts MATCH :match AND f.rowid < :before "
        "AND p.hidden_at IS NULL AND p.deleted_at IS NULL ORDER BY f.rowid DESC LIMIT :limit")


def _postgresql(table: str):
    return text(
        f"SELECT id FROM {table} WHERE to_tsvector('english', title || ' ' || body_source) "
        "@@ plainto_tsquery('english', :words) AND id < :before "
        "AND hidden_at IS NULL AND deleted_at IS NULL ORDER BY id DESC LIMIT :limit")


_QUERIES = {kind: {"sqlite": _sqlite(kind), "postgresql": _postgresql(kind)} for kind in SEARCHABLE}


def words_of(query: str) -> list[str]:
    return re.findall(r"\w+", query.lower())[:MAX_WORDS]


def search(query: str, before: int | None = None, size: int = PAGE_SIZE, kind: str = "questions") -> Page:
    """One page of the questions (or articles, by `kind`) holding every word of `query`."""
    words = words_of(query)
    if not words:
        return Page([], None)
    values = {"before": before if before is not None else NO_LIMIT, "limit": size + 1}
    if db.engine.dialect.name == "postgresql":
        statement = _QUERIES[kind]["postgresql"]
        ids = db.session.execute(statement, {**values, "words": " ".join(words)}).scalars().all()
    else:
        # Each word quoted: a phrase of one word, so nothing typed is read as an FTS operator.
        match = " ".join(f'"{w}"' for w in words)
        ids = db.session.execute(_QUERIES[kind]["sqlite"], {**values, "match": match}).scalars().all()
    more = len(ids) > size
    return Page(SEARCHABLE[kind](ids[:size]), ids[size - 1] if more else None)
