"""Is a writer's id already queued? Answered from listings, not ten failed stats a claim.

A pickup file keeps the id its writer gave it unless a queued message has that id (a
copied file): relay.queue.claims asks before every claim from pickup. Asking each of
deferred/, hold/, badmail/ and sent/ for both names of the id was eight failed stats a
claim, each one a hand-off of the GIL between the workers that claim.
Those folders rarely change while pickup drains, so refresh() (once a dispatch pass)
stats each folder and lists again only one whose mtime moved. A listing made in the
same clock tick as the folder's last change is made again at the next refresh (the
change it may have missed would not move the mtime). A folder of more than LIST_LIMIT
names is asked per id instead, as is active/, which changes with every claim.
"""

from __future__ import annotations

import os
import time

from relay.queue.folders import ACTIVE, BADMAIL, DEFERRED, HOLD, SENT, Queue
from spooler.names import BULK, TRANSACTIONAL, is_message_name, message_name, queue_id_of

LIST_LIMIT = 2000     # a folder with more names is asked per id: listing it would cost more
SAME_TICK = 0.05      # a listing this close to the folder's mtime may have missed a change
RESTING = (DEFERRED, HOLD, BADMAIL, SENT)


class QueuedIds:
    """The ids in the queue's resting folders, as of the last refresh()."""

    def __init__(self, queue: Queue):
        self._dirs = {folder: str(queue.dirs[folder]) for folder in (ACTIVE, *RESTING)}
        # folder -> (mtime_ns the listing is good for, ids), or None: ask per id
        self._listed: dict[str, tuple[int, frozenset[str]] | None] = {f: None for f in RESTING}

    def refresh(self) -> None:
        # A new dict, swapped in whole: workers call holds() while the dispatcher refreshes.
        self._listed = {folder: self._listing(folder, listed) for folder, listed in self._listed.items()}

    def holds(self, queue_id: str) -> bool:
        """Does a message in active/ or a resting folder (as of the last refresh) have this id?"""
        names = (message_name(queue_id, TRANSACTIONAL), message_name(queue_id, BULK))
        for folder, listed in ((ACTIVE, None), *self._listed.items()):
            if listed is not None:
                if queue_id in listed[1]:
                    return True
            elif any(os.path.lexists(f"{self._dirs[folder]}/{name}") for name in names):
                return True
        return False

    def _listing(self, folder: str, listed: tuple[int, frozenset[str]] | None,
                 ) -> tuple[int, frozenset[str]] | None:
        try:
            mtime_ns = os.stat(self._dirs[folder]).st_mtime_ns
        except FileNotFoundError:
            return None
        if listed is not None and listed[0] == mtime_ns:
            return listed
        started = time.time_ns()
        ids = set()
        with os.scandir(self._dirs[folder]) as entries:
            for entry in entries:
                if is_message_name(entry.name):
                    if len(ids) >= LIST_LIMIT:
                        return None
                    ids.add(queue_id_of(entry.name))
        if started - mtime_ns < SAME_TICK * 1e9:
            mtime_ns = -1   # good for this pass only: listed again at the next refresh
        return mtime_ns, frozenset(ids)
