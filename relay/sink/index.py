"""The sink's message index: SQLite (FTS5) beside the Maildir, so the inbox lists, pages and
searches any number of messages without reading them.

The Maildir stays the truth. The index lives in `<maildir>/inbox.sqlite`; when it is missing,
unreadable or of another schema it is rebuilt from new/, and sync() adds what the sink stored
and forgets what was removed while nobody watched. While the inbox runs, a watchdog observer on
new/ keeps it current as messages arrive or go, and wakes whoever waits for a change (the live
page, the API's wait). Ids are given in the order the index learns of messages (received order
at a rebuild), so paging is by id: newest first, a cursor is the last id seen.

Read state lives only here (a rebuild forgets it). Everything in a message is untrusted; the
index stores decoded text and never markup. Reads [sink] maildir (through its callers).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from relay.sink.index_reading import Row, read_batches, read_rows
from relay.sink.index_sql import COLUMNS, SCHEMA, prefixed, select
from relay.sink.indexed_text import IndexedText
from relay.sink.maildir import Maildir
from relay.sink.search import parse_search

log = logging.getLogger(__name__)

INDEX_NAME = "inbox.sqlite"
SCHEMA_VERSION = 2
BATCH = 500   # messages per transaction while catching up
COUNTS_KEPT = 64   # distinct counts remembered between two changes

@dataclass(frozen=True)
class Entry:
    """One indexed message as a listing shows it."""
    id: int
    name: str
    received_ns: int
    size: int
    envelope_from: str
    envelope_to: tuple[str, ...]
    from_header: str
    to_header: str
    subject: str
    snippet: str
    attachments: int
    read: bool


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_cursor: int | None   # pass as `before` for the next (older) page; None: no more
    total: int                # messages matching, all pages


class MessageIndex:
    """The index of one Maildir; a context manager that starts and stops its watcher."""

    def __init__(self, maildir: Maildir, path: str | os.PathLike | None = None):
        self.maildir = maildir
        self.path = Path(path) if path else maildir.root / INDEX_NAME
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._counts: dict = {}   # counts read at this version: every change empties it
        self._db = self._open()
        self._observer: Observer | None = None
        self._closed = False

    # -- keeping it current ------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            db = self._connect()
            if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return db
            db.close()
        except sqlite3.DatabaseError as e:
            log.warning("inbox index %s unreadable (%s): rebuilding it from the Maildir",
                        self.path, e)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        db = self._connect()
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                             timeout=10)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")   # a lost index is rebuilt from the Maildir
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()   # a bad file fails here
        return db

    def sync(self) -> int:
        """Index what new/ holds and the index lacks, forget what new/ lost; how many changed."""
        on_disk = {listed.name: listed for listed in self.maildir.listing()}
        with self._lock:
            known = {name for (name,) in self._db.execute("SELECT name FROM messages")}
        gone = known - on_disk.keys()
        missing = sorted((on_disk[name] for name in on_disk.keys() - known),
                         key=lambda listed: (listed.received_ns, listed.name))
        self.forget(gone)
        for rows in read_batches([[(m.name, m.path) for m in missing[start:start + BATCH]]
                                  for start in range(0, len(missing), BATCH)]):
            self._insert_rows(rows)
        return len(gone) + len(missing)

    def add(self, name: str) -> Entry | None:
        """Index the message `name` in new/ (once); None when there is no such message."""
        path = self.maildir.find(name)
        if path is None:
            return None
        self._insert_rows(read_rows([(name, path)]))
        return self.get(name)

    def _insert_rows(self, rows: list[Row]) -> None:
        if not rows:
            return
        with self._changed:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    self._insert(row.name, row.received_ns, row.size, row.text)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._bump()

    def _insert(self, name: str, received_ns: int, size: int, text: IndexedText) -> None:
        cursor = self._db.execute(
            "INSERT INTO messages (name, received_ns, size, envelope_from, envelope_to, "
            "from_header, to_header, subject, snippet, attachments) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
            (name, received_ns, size, text.envelope_from, "\n".join(text.envelope_to),
             text.from_header, text.to_header, text.subject, text.snippet, text.attachments))
        if cursor.rowcount:
            self._db.execute(
                "INSERT INTO messages_fts (rowid, sender, recipients, subject, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (cursor.lastrowid, f"{text.envelope_from} {text.from_header}",
                 " ".join(text.envelope_to) + " " + text.to_header, text.subject, text.body))

    def forget(self, names) -> int:
        """Drop the named messages from the index (their files are not touched)."""
        names = list(names)
        if not names:
            return 0
        with self._changed:
            self._db.execute("BEGIN IMMEDIATE")
            forgotten = 0
            for name in names:
                row = self._db.execute("DELETE FROM messages WHERE name = ? RETURNING id",
                                       (name,)).fetchone()
                if row:
                    self._db.execute("DELETE FROM messages_fts WHERE rowid = ?", row)
                    forgotten += 1
            self._db.execute("COMMIT")
            if forgotten:
                self._bump()
        return forgotten

    def _bump(self) -> None:
        self._version += 1
        self._counts.clear()
        self._changed.notify_all()

    def _count(self, key, sql: str, params: list) -> int:
        """A count, read once per version (a page and the next of one search count the same,
        and counting 100,000 matches costs more than the page); call with the lock held."""
        found = self._counts.get(key)
        if found is None:
            if len(self._counts) >= COUNTS_KEPT:
                self._counts.clear()
            found = self._counts[key] = self._db.execute(sql, params).fetchone()[0]
        return found

    # -- reading -------------------------------------------------------------------------------

    def page(self, query: str = "", limit: int = 50, before: int | None = None) -> Page:
        """The newest `limit` messages matching `query` (older than id `before`), newest first."""
        search = parse_search(query)
        with self._lock:
            rows = self._db.execute(*select(search, prefixed("m."), before=before,
                                             limit=limit + 1)).fetchall()
            total = self._count(search, *select(search, "count(*)"))
        entries = [_entry(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(entries, entries[-1].id if more and entries else None, total)

    def get(self, name: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(f"SELECT {COLUMNS} FROM messages WHERE name = ?",
                                   (name,)).fetchone()
        return _entry(row) if row else None

    def names(self, query: str) -> list[str]:
        """The names of every message matching `query`, newest first."""
        with self._lock:
            return [name for (name,) in self._db.execute(*select(parse_search(query), "m.name"))]

    def newer(self, after: int, query: str = "", limit: int = 100) -> list[Entry]:
        """Messages matching `query` with an id above `after`, oldest first."""
        with self._lock:
            rows = self._db.execute(*select(parse_search(query), prefixed("m."), after=after,
                                             limit=limit, oldest_first=True)).fetchall()
        return [_entry(row) for row in rows]

    def newest(self, query: str = "", after: int = 0) -> Entry | None:
        """The newest message matching `query` with an id above `after`, or None."""
        with self._lock:
            row = self._db.execute(*select(parse_search(query), prefixed("m."), after=after,
                                            limit=1)).fetchone()
        return _entry(row) if row else None

    def last_id(self) -> int:
        with self._lock:
            return self._db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]

    def unread_count(self) -> int:
        with self._lock:
            return self._count("unread", "SELECT count(*) FROM messages WHERE read = 0", [])

    # -- changing ------------------------------------------------------------------------------

    def mark_read(self, names, read: bool = True) -> int:
        flag = int(read)
        with self._changed:   # one transaction: 100,000 autocommits held the lock for seconds
            self._db.execute("BEGIN IMMEDIATE")
            changed = self._db.executemany(
                "UPDATE messages SET read = ? WHERE name = ? AND read != ?",
                ((flag, name, flag) for name in names)).rowcount
            self._db.execute("COMMIT")
            if changed:
                self._bump()
        return changed

    def delete(self, names) -> int:
        """Remove the named messages from the Maildir and the index; how many there were."""
        names, removed = list(names), 0
        for name in names:
            path = self.maildir.find(name)
            try:
                if path is not None:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass   # removed meanwhile
        self.forget(names)   # the watcher may forget them first: count the files, not rows
        return removed

    def clear(self) -> int:
        """Remove every message (a message being written, in tmp/, is kept whole)."""
        removed = self.maildir.clear()
        self.sync()
        return removed

    # -- waiting for change --------------------------------------------------------------------

    @property
    def watching(self) -> bool:
        """Whether a watcher keeps the index current; without one, call sync() before reading."""
        return self._observer is not None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def version(self) -> int:
        """Goes up on every change: a message indexed, forgotten, read or unread."""
        return self._version

    def wait_for_change(self, seen_version: int, timeout: float) -> int:
        """Block until the version differs from `seen_version` or `timeout` seconds pass;
        the version then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._version == seen_version:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self._version

    def wait_for(self, query: str, timeout: float, after: int = 0) -> Entry | None:
        """The newest message matching `query` with an id above `after`, already indexed or
        arriving within `timeout` seconds; None when none came."""
        deadline = time.monotonic() + timeout
        while not self._closed:
            version = self.version
            found = self.newest(query, after)
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.wait_for_change(version, left)
        return None

    # -- the watcher ---------------------------------------------------------------------------

    def start(self) -> MessageIndex:
        """Catch up with the Maildir, then follow new/ as it changes."""
        observer = Observer()
        observer.schedule(_NewFolderEvents(self), str(self.maildir.root / "new"), recursive=False)
        observer.daemon = True
        observer.start()   # before sync(), so nothing stored meanwhile is missed
        self._observer = observer
        self.sync()
        return self

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None
        with self._changed:
            self._closed = True
            self._db.close()
            self._bump()   # wake waiters: the index is gone

    def __enter__(self) -> MessageIndex:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _NewFolderEvents(FileSystemEventHandler):
    """new/ as watchdog reports it: a file renamed in from tmp/ arrives as created."""

    def __init__(self, index: MessageIndex):
        self.index = index

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        try:
            if event.event_type == "created":
                self.index.add(_name(event.src_path))
            elif event.event_type == "moved":   # within new/: a rename
                self.index.forget([_name(event.src_path)])
                self.index.add(_name(event.dest_path))
            elif event.event_type == "deleted":
                self.index.forget([_name(event.src_path)])
        except sqlite3.ProgrammingError:
            pass   # the index closed while an event was on its way


def _name(path: str | bytes) -> str:
    return Path(os.fsdecode(path)).name


def _entry(row) -> Entry:
    (id_, name, received_ns, size, envelope_from, envelope_to, from_header, to_header, subject,
     snippet, attachments, read) = row
    return Entry(id_, name, received_ns, size, envelope_from,
                 tuple(envelope_to.split("\n")) if envelope_to else (), from_header, to_header,
                 subject, snippet, attachments, bool(read))
