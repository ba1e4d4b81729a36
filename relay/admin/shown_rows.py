"""The dashboard's rows of queued messages, kept from one snapshot to the next.

A row (relay.admin.listing.message_row) and its last attempts come from three files:
the message (its envelope, in its head), meta/ID.json (attempts, recipients still owed)
and, in badmail/, ID.bdr (the reason). ShownRows keeps each row with the inode, size and
mtime of those files; the next snapshot stats them and reads a message again only when
one changed (a move, an attempt, a new deferral time), so a queue holding the 1,500
messages the dashboard shows costs three stat()s each every PUBLISH_EVERY seconds, not
three opens, reads and parses (about 125 ms of CPU a snapshot). Ages are brought up to
the snapshot's time. Memory: the rows shown, no more. Used by one thread (the relay's
control thread); reads only, like relay.admin.listing.
"""

from __future__ import annotations

import dataclasses
import os

from channel.status import AttemptShown, ShownMessage
from relay.admin.listing import message_row
from relay.queue.folders import BADMAIL, Queue
from spooler.names import queue_id_of

HISTORY_SHOWN = 10          # the last attempts of each message
REASON_SHOWN = 4000         # characters of a badmail reason

Stamp = tuple[tuple[int, int, int] | None, ...]


class ShownRows:
    def __init__(self):
        # (folder, name) -> (what its files looked like, when it arrived, its row)
        self._kept: dict[tuple[str, str], tuple[Stamp, float, ShownMessage]] = {}

    def newest(self, queue: Queue, folder: str, limit: int, now: float) -> tuple[ShownMessage, ...]:
        """The `limit` newest messages in folder, newest first (ids sort by arrival)."""
        shown: list[ShownMessage] = []
        seen: set[tuple[str, str]] = set()
        for name in reversed(queue.names(folder)):
            if len(shown) >= limit:
                break
            key, stamp = (folder, name), _stamp(queue, folder, name)
            kept = self._kept.get(key)
            if kept is not None and kept[0] == stamp:
                _, arrived, message = kept
                message = dataclasses.replace(message, row=dataclasses.replace(
                    message.row, age=max(0.0, now - arrived)))
            else:
                message = shown_message(queue, folder, name, now)
                if message is None:
                    continue   # moved on while we listed
                arrived = now - message.row.age
            self._kept[key] = (stamp, arrived, message)
            seen.add(key)
            shown.append(message)
        for key in [k for k in self._kept if k[0] == folder and k not in seen]:
            del self._kept[key]   # moved on or no longer among the newest
        return tuple(shown)


def shown_message(queue: Queue, folder: str, name: str, now: float) -> ShownMessage | None:
    """A message as the dashboard lists it: its row, its last attempts, its badmail reason
    (envelope and replies only; never a subject or a body)."""
    queue_id = queue_id_of(name)
    history = queue.history(queue_id)
    row = message_row(queue, folder, name, now, history)
    if row is None:
        return None
    attempts = history.attempts[-HISTORY_SHOWN:] if history else []
    reason = (queue.reason(queue_id) or "")[:REASON_SHOWN] if folder == BADMAIL else None
    return ShownMessage(row, tuple(AttemptShown(a.at, a.code, a.reply, tuple(a.recipients))
                                   for a in attempts), reason)


def _stamp(queue: Queue, folder: str, name: str) -> Stamp:
    """(inode, size, mtime) of the message, its history and its reason file (None: missing)."""
    queue_id = queue_id_of(name)
    paths = [os.path.join(queue.dirs[folder], name), queue.history_path(queue_id)]
    if folder == BADMAIL:
        paths.append(str(queue.reason_path(queue_id)))
    return tuple(_looks(p) for p in paths)


def _looks(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns
