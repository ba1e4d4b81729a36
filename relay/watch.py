"""Knowing when a pickup file is complete: watchdog events, start-up scan, periodic rescan.

Events are hints, the folder is the truth. A file is ready when a writer
closed it after writing (close-write), when it was renamed within pickup
(the spooler's hidden temp name -> *.eml), or, for anything seen without
such an event (renamed in from another folder, found by a scan), when its
mtime is older than the settle time and no write event says it is still
open. Hidden and *.tmp names are never taken. Watchdog callbacks only
record names and wake the daemon; they never open or parse a file.
Overflowed or missed events only delay a message until the next rescan.
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from relay.queue import is_message_name
from spooler.envelope import BULK, TRANSACTIONAL, priority_of

SETTLE = 1.0          # seconds a file found without a close event must sit unchanged
WRITER_GIVE_UP = 600  # a write event with no close after this long: trust the settle check
READY_CAP = 5000      # ready names held per class; the rest wait in the folder for a rescan


class PickupWatcher:
    """Tracks which pickup names are ready to claim. Thread-safe; wakes `wake` on news."""

    def __init__(self, pickup_dir: str | os.PathLike, wake: threading.Event, settle: float = SETTLE,
                 ready_cap: int = READY_CAP):
        self.dir = Path(pickup_dir)
        self.wake = wake
        self.settle = settle
        self.ready_cap = ready_cap
        self._lock = threading.Lock()
        self._ready: set[str] = set()          # transactional names
        self._ready_bulk: set[str] = set()
        self._writing: dict[str, float] = {}   # name -> last write event (open for writing)
        self._unsettled: set[str] = set()      # seen, completeness unknown
        self._more = False                     # ready names were left in the folder (cap)
        self._observer = None

    def start(self) -> None:
        observer = Observer()
        # Only the events that say something about completeness: the kernel then does not
        # even report the relay's own opens, reads and unlinks (one claim = no events).
        observer.schedule(_Events(self), str(self.dir), recursive=False, event_filter=[
            FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent])
        observer.daemon = True
        observer.start()
        self._observer = observer
        self.rescan()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None

    # -- what the daemon asks ---------------------------------------------------------------

    def take_ready(self, transactional_limit: int, bulk_limit: int) -> list[str]:
        """Names ready to claim, each given out once: at most transactional_limit
        transactional ones, then at most bulk_limit bulk ones, oldest name first (so a
        100,000-file backlog is never copied whole)."""
        with self._lock:
            return _take(self._ready, transactional_limit) + _take(self._ready_bulk, bulk_limit)

    def has_unsettled(self) -> bool:
        with self._lock:
            return bool(self._unsettled)

    def rescan(self, now: float | None = None) -> None:
        """Look at the folder itself: catch missed events and settle what had none.

        Holds at most READY_CAP names per class (the oldest); with more in the folder,
        `needs_rescan()` asks for another look once those are taken.
        """
        now = time.time() if now is None else now
        try:
            entries = os.scandir(self.dir)
        except FileNotFoundError:
            return
        oldest = {TRANSACTIONAL: _Oldest(self.ready_cap), BULK: _Oldest(self.ready_cap)}
        with self._lock, entries:
            writing, unsettled = {}, set()
            for entry in entries:
                name = entry.name
                if not is_message_name(name):
                    continue
                last_write = self._writing.get(name)
                if last_write is not None and now - last_write < WRITER_GIVE_UP:
                    writing[name] = last_write
                    continue
                try:
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue
                if now - mtime >= self.settle:
                    oldest[priority_of(name)].offer(name)
                else:
                    unsettled.add(name)
            # Events wait for the lock, so the scan is the whole truth: what left is forgotten.
            self._writing, self._unsettled = writing, unsettled
            # The oldest found join what events already said is complete (at most twice the cap).
            self._ready.update(oldest[TRANSACTIONAL].names())
            self._ready_bulk.update(oldest[BULK].names())
            self._more = any(found.overflowed for found in oldest.values())
            ready = any(self._ready) or any(self._ready_bulk)
        if ready:
            self.wake.set()

    def needs_rescan(self) -> bool:
        """True when the folder holds more than was taken in and most of that is given out."""
        with self._lock:
            return self._more and len(self._ready) + len(self._ready_bulk) < self.ready_cap // 4

    # -- what the events say ------------------------------------------------------------------

    def _complete(self, name: str) -> None:
        with self._lock:
            self._writing.pop(name, None)
            self._unsettled.discard(name)
            self._mark_ready(name)
        self.wake.set()

    def _mark_ready(self, name: str) -> None:  # holds _lock
        names = self._ready if priority_of(name) == TRANSACTIONAL else self._ready_bulk
        if len(names) < self.ready_cap:
            names.add(name)
        else:
            self._more = True  # the next scan finds it: memory stays flat under any flood

    def _being_written(self, name: str) -> None:
        with self._lock:
            self._writing[name] = time.time()
            self._unsettled.discard(name)

    def _seen(self, name: str) -> None:
        with self._lock:
            if name not in self._writing:
                self._unsettled.add(name)
        self.wake.set()

    def _gone(self, name: str) -> None:
        with self._lock:
            self._writing.pop(name, None)
            self._unsettled.discard(name)


class _Oldest:
    """Keeps the `size` smallest names offered (ids sort by time), in O(size) memory."""

    def __init__(self, size: int):
        self.size, self.heap, self.overflowed = size, [], False

    def offer(self, name: str) -> None:
        item = _Reversed(name)
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, item)
        else:
            self.overflowed = True
            if name < self.heap[0].name:  # smaller than the largest kept: swap it in
                heapq.heapreplace(self.heap, item)

    def names(self) -> list[str]:
        return [item.name for item in self.heap]


class _Reversed:
    """Orders names backwards, so heapq's min-heap keeps the largest kept name on top."""
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __lt__(self, other: _Reversed) -> bool:
        return other.name < self.name


def _take(names: set[str], limit: int) -> list[str]:
    taken = sorted(names) if len(names) <= limit else heapq.nsmallest(limit, names)
    names.difference_update(taken)
    return taken


class _Events(FileSystemEventHandler):
    def __init__(self, watcher: PickupWatcher):
        self.watcher = watcher
        self.folder = str(watcher.dir)

    def _name(self, path: str | bytes) -> str | None:
        path = os.fsdecode(path)
        head, name = os.path.split(path)
        return name if head == self.folder and is_message_name(name) else None

    def on_closed(self, event: FileSystemEvent) -> None:   # close after write: complete
        if name := self._name(event.src_path):
            self.watcher._complete(name)

    def on_moved(self, event: FileSystemEvent) -> None:    # renamed within pickup: complete
        if name := self._name(event.src_path):
            self.watcher._gone(name)
        if name := self._name(event.dest_path):
            self.watcher._complete(name)

    def on_created(self, event: FileSystemEvent) -> None:  # opened for writing, or moved in
        if name := self._name(event.src_path):
            self.watcher._seen(name)

    def on_modified(self, event: FileSystemEvent) -> None:  # written to: still open
        if not event.is_directory and (name := self._name(event.src_path)):
            self.watcher._being_written(name)

