"""The inbox index's tables (relay/sink/index.py) and the SELECT a search becomes: one FTS5
table of the words beside a table of what a listing shows, sharing their ids."""

from __future__ import annotations

from relay.sink.search import Search

SCHEMA = """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    received_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    envelope_from TEXT NOT NULL,
    envelope_to TEXT NOT NULL,
    from_header TEXT NOT NULL,
    to_header TEXT NOT NULL,
    subject TEXT NOT NULL,
    snippet TEXT NOT NULL,
    attachments INTEGER NOT NULL,
    read INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_unread ON messages (id) WHERE read = 0;
CREATE VIRTUAL TABLE messages_fts USING fts5(
    sender, recipients, subject, body, tokenize = 'unicode61 remove_diacritics 2'
);
"""
COLUMNS = ("id, name, received_ns, size, envelope_from, envelope_to, from_header, to_header, "
           "subject, snippet, attachments, read")


def select(search: Search, columns: str, before: int | None = None, after: int | None = None,
            limit: int | None = None, oldest_first: bool = False) -> tuple[str, list]:
    """The SELECT for `search`. With words to match, the FTS table drives the join in rowid
    order (CROSS JOIN keeps SQLite from reading every match first), so the newest page of
    a word in every message costs what a rare word's does. Counting words alone needs no join
    (the two tables hold the same ids): 4 ms instead of 15 for 100,000 matches."""
    id_column = "messages_fts.rowid" if search.fts else "m.id"
    if search.fts and columns == "count(*)" and search == Search(fts=search.fts):
        return "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", [search.fts]
    if search.fts:
        sql = (f"SELECT {columns} FROM messages_fts CROSS JOIN messages m "
               "ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?")
        params: list = [search.fts]
    else:
        sql, params = f"SELECT {columns} FROM messages m WHERE 1", []
    if search.fts_excluded:
        sql += " AND m.id NOT IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
        params.append(search.fts_excluded)
    if search.read is not None:   # a literal, so the partial index of unread ones serves it
        sql += " AND m.read = 1" if search.read else " AND m.read = 0"
    if search.has_attachment is not None:
        sql += " AND m.attachments > 0" if search.has_attachment else " AND m.attachments = 0"
    for bound, operator in ((before, "<"), (after, ">")):
        if bound is not None:
            sql += f" AND {id_column} {operator} ?"
            params.append(bound)
    if not columns.startswith("count("):
        sql += f" ORDER BY {id_column} {'ASC' if oldest_first else 'DESC'}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def prefixed(prefix: str) -> str:
    return ", ".join(prefix + column.strip() for column in COLUMNS.split(","))
