"""What an admin does to a queued message: hold, release, retry now, delete, requeue from badmail.

Safe beside running relays: each move opens the file without following links and
locks it first (_AdminLock), so a message a live relay is sending is "busy", never
moved under it; then one rename(). Raises AdminError, whose message a person reads
(unknown id, wrong folder, busy, moved on). relay.admin.moves names these for every
front end (the `relay` commands and the dashboard's requests).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from relay.queue.files import Unclaimable, open_locked, same_file
from relay.queue.folders import BADMAIL, DEFERRED, HOLD, SENT, Queue
from relay.queue.history import History
from spooler.names import message_name, new_queue_id, priority_of


class AdminError(Exception):
    """An admin command cannot do what was asked; the message says why."""


def admin_move(queue: Queue, queue_id: str, allowed: tuple[str, ...], to: str, *,
               due_now: bool = False) -> None:
    """Move a message between folders for an admin (due_now: its next attempt is now).

    Raises AdminError: unknown id, wrong folder, or busy (a live relay is sending it).
    """
    folder, path = _locate_for_admin(queue, queue_id, allowed)
    with _AdminLock(path, queue_id) as fd:
        if due_now:
            now = time.time()
            if fd is not None:
                os.utime(fd, (now, now))
        if folder != to:
            os.rename(path, queue.dirs[to] / path.name)


def delete(queue: Queue, queue_id: str, allowed: tuple[str, ...] = (DEFERRED, HOLD, BADMAIL, SENT)) -> None:
    """Remove a message, its history and its reason file."""
    _folder, path = _locate_for_admin(queue, queue_id, allowed)
    with _AdminLock(path, queue_id):
        path.unlink()
    queue.drop_history(queue_id)
    queue.drop_reason(queue_id)


def requeue_badmail(queue: Queue, queue_id: str) -> str:
    """Give a badmail message another chance, under a new id (as `postsuper -r` does):
    deferred/, due now, a fresh lifetime, only the recipients still owed it."""
    _folder, path = _locate_for_admin(queue, queue_id, (BADMAIL,))
    old = queue.history(queue_id)
    new_id = new_queue_id()
    with _AdminLock(path, queue_id) as fd:
        if fd is not None:
            now = time.time()
            os.utime(fd, (now, now))
        try:
            queue.save_history(new_id, History(
                arrived=time.time(), source=f"badmail/{path.name}",
                recipients_left=old.recipients_left if old else None))
            os.rename(path, queue.dirs[DEFERRED] / message_name(new_id, priority_of(path.name)))
        except OSError as e:
            queue.drop_history(new_id)
            raise AdminError(f"{queue_id}: left in badmail/: {e.strerror}") from None
    queue.drop_history(queue_id)
    queue.drop_reason(queue_id)
    return new_id


def _locate_for_admin(queue: Queue, queue_id: str, allowed: tuple[str, ...]) -> tuple[str, Path]:
    found = queue.locate(queue_id)
    if found is None:
        raise AdminError(f"{queue_id}: no such message in the queue")
    folder, path = found
    if folder not in allowed:
        raise AdminError(f"{queue_id}: is in {folder}/, not in {' or '.join(allowed)}/")
    return folder, path


class _AdminLock:
    """Hold a queue file's lock for an admin move; a file a live relay holds is busy."""

    def __init__(self, path: Path, queue_id: str):
        self.path, self.queue_id, self.fd = path, queue_id, None

    def __enter__(self) -> int | None:
        try:
            self.fd = open_locked(self.path)
        except Unclaimable:
            return None  # a symlink or fifo kept in badmail: no relay will ever hold it
        if self.fd is None:
            if os.path.lexists(self.path):
                raise AdminError(f"{self.queue_id}: busy: a running relay is delivering it now")
            raise AdminError(f"{self.queue_id}: moved on while we looked; try again")
        if not same_file(self.fd, self.path):
            os.close(self.fd)
            raise AdminError(f"{self.queue_id}: moved on while we looked; try again")
        return self.fd

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)
