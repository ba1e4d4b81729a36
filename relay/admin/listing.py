"""What is in the queue, for people and monitors: folder totals, message rows, one message in full.

Reads the folders (stat only for totals), the first few KB of each message
for its envelope (never the body), meta/ID.json for attempts and ID.bdr for
badmail reasons. Never moves or locks anything, so it is safe beside running
relays. Used by `relay status`, `relay list` and `relay show`, and for the dashboard's
snapshot (relay.admin.status.dashboard_snapshot): its rows and totals are channel.status's types, the
format the site reads them in.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from channel.status import FolderTotals, MessageRow, RefusedRecipient, matches
from relay.queue.folders import ACTIVE, BADMAIL, DEFERRED, HOLD, PICKUP, SENT, Queue
from relay.queue.history import History
from spooler.envelope import MalformedMessage, read_envelope
from spooler.names import id_time, is_message_name, priority_of, queue_id_of

STATUS_FOLDERS = (PICKUP, ACTIVE, DEFERRED, HOLD, BADMAIL)
LIST_FOLDERS = (ACTIVE, DEFERRED, HOLD, BADMAIL, SENT)
HEAD_LIMIT = 64 * 1024   # how much of a file is read to find its envelope


@dataclass
class MessageDetail:
    row: MessageRow
    path: str
    headers: str
    history: list[dict] = field(default_factory=list)
    reason: str | None = None


def folder_totals(queue: Queue, folder: str, now: float) -> FolderTotals:
    path = queue.pickup if folder == PICKUP else queue.dirs[folder]
    # deferred/ mtimes are next-attempt times; the id carries the arrival.
    return totals_of(path, now, arrival_in_name=folder in (DEFERRED, HOLD))


def totals_of(path: Path, now: float, *, arrival_in_name: bool = False) -> FolderTotals:
    """Count, bytes and oldest age of the *.eml files in `path` (none when it is missing);
    a file arrived at its mtime, or with arrival_in_name at its queue id's time."""
    try:
        entries = os.scandir(path)
    except FileNotFoundError:
        return FolderTotals()
    count = size = 0
    oldest = None
    with entries:
        for entry in entries:
            if not is_message_name(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            count += 1
            size += st.st_size
            arrived = id_time(entry.name) if arrival_in_name else st.st_mtime
            oldest = arrived if oldest is None else min(oldest, arrived)
    return FolderTotals(count, size, None if oldest is None else max(0.0, now - oldest))


def message_rows(queue: Queue, folders: tuple[str, ...] = LIST_FOLDERS, *, now: float | None = None,
                 sender: str | None = None, recipient: str | None = None,
                 older_than: float | None = None) -> list[MessageRow]:
    """One row per queued message, oldest first, filtered; reads only each file's head."""
    now = time.time() if now is None else now
    rows = []
    for folder in folders:
        for name in queue.names(folder):
            row = _row(queue, folder, name, now)
            if row is not None and matches(row, sender=sender, recipient=recipient,
                                           older_than=older_than):
                rows.append(row)
    return sorted(rows, key=lambda r: -r.age)


def message_detail(queue: Queue, queue_id: str) -> MessageDetail | None:
    found = queue.locate(queue_id)
    if found is None:
        return None
    folder, path = found
    row = _row(queue, folder, path.name, time.time())
    if row is None:
        return None
    history = queue.history(queue_id)
    return MessageDetail(row=row, path=str(path), headers=_headers_shown(path),
                         history=[a.__dict__ for a in history.attempts] if history else [],
                         reason=queue.reason(queue_id) if folder == BADMAIL else None)


def _row(queue: Queue, folder: str, name: str, now: float) -> MessageRow | None:
    return message_row(queue, folder, name, now, queue.history(queue_id_of(name)))


def message_row(queue: Queue, folder: str, name: str, now: float,
                history: History | None) -> MessageRow | None:
    """One message's row, its attempt history already read (None: never attempted); None when
    it moved on while we listed."""
    path = os.path.join(queue.dirs[folder], name)
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None  # moved on while we listed
    queue_id = queue_id_of(name)
    arrived = history.arrived if history else id_time(name)
    sender, recipients, error = "?", [], ""
    try:
        if st.st_nlink > 1 or not stat.S_ISREG(st.st_mode):
            raise OSError("not read: a link or not a regular file")
        sender, found = read_envelope(_head(path))
        recipients = list(found)
    except FileNotFoundError:
        return None  # delivered or moved between the stat and the open
    except (MalformedMessage, OSError) as e:
        error = f"unreadable: {e}"
    if history and history.recipients_left:
        recipients = history.recipients_left
    if history and history.attempts:
        error = history.attempts[-1].reply
    if folder == BADMAIL:
        reason = queue.reason(queue_id) or ""
        error = reason.splitlines()[0].removeprefix("reason: ") if reason else error
    return MessageRow(
        id=queue_id, folder=folder, priority=priority_of(name), age=max(0.0, now - arrived),
        size=st.st_size, sender=sender, recipients=tuple(recipients),
        attempts=len(history.attempts) if history else 0,
        next_attempt=st.st_mtime if folder == DEFERRED else None, last_error=error,
        refused=tuple(RefusedRecipient(r.recipient, r.reply, r.at) for r in history.refused)
        if history else ())


def _headers_shown(path: Path) -> str:
    """A message's header section for `relay show`, or why it is not shown (badmail keeps
    symlinks, folders and hard links untouched: they are never read)."""
    try:
        st = os.stat(path, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            return "(not shown: not a regular file; it was never read)"
        if st.st_nlink > 1:
            return "(not shown: a file with a second name, a hard link; it was never read)"
        head = _head(path)
    except OSError as e:
        return f"(not shown: {e.strerror or e})"
    end = head.find(b"\n\r\n") if b"\n\r\n" in head else head.find(b"\n\n")
    return head[: end + 1 if end >= 0 else len(head)].decode("utf-8", "replace")


def _head(path: str | Path) -> bytes:
    """The header section of a message file (up to HEAD_LIMIT), never following a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        head = os.read(fd, 4096)
        if len(head) == 4096 and b"\n\n" not in head and b"\n\r\n" not in head:
            head += os.read(fd, HEAD_LIMIT - len(head))  # a long header section
    finally:
        os.close(fd)
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = head.find(separator)
        if end >= 0:
            return head[: end + len(separator)]
    return head
