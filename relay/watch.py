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
from spooler.envelope import TRANSACTIONAL, priority_of

SETTLE = 1.0          # seconds a file found without a close event must sit unchanged
WRITER_GIVE_UP = 600  # a write event with no close after this long: trust the settle check


class PickupWatcher:
    """Tracks which pickup names are ready to claim. Thread-safe; wakes `wake` on news."""

    def __init__(self, pickup_dir: str | os.PathLike, wake: threading.Event, settle: float = SETTLE):
        self.dir = Path(pickup_dir)
        self.wake = wake
        self.settle = settle
        self._lock = threading.Lock()
        self._ready: set[str] = set()          # transactional names
        self._ready_bulk: set[str] = set()
        self._writing: dict[str, float] = {}   # name -> last write event (open for writing)
        self._unsettled: set[str] = set()      # seen, completeness unknown
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
        """Look at the folder itself: catch missed events and settle what had none."""
        now = time.time() if now is None else now
        try:
            entries = os.scandir(self.dir)
        except FileNotFoundError:
            return
        ready = 0
        with self._lock, entries:
            present = set()
            for entry in entries:
                name = entry.name
                if not is_message_name(name):
                    continue
                present.add(name)
                last_write = self._writing.get(name)
                if last_write is not None and now - last_write < WRITER_GIVE_UP:
                    continue
                try:
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue
                if now - mtime >= self.settle:
                    self._mark_ready(name)
                    ready += 1
                    self._unsettled.discard(name)
                    self._writing.pop(name, None)
                else:
                    self._unsettled.add(name)
            self._unsettled &= present
            for name in list(self._writing):
                if name not in present:
                    del self._writing[name]
        if ready:
            self.wake.set()

    # -- what the events say ------------------------------------------------------------------

    def _complete(self, name: str) -> None:
        with self._lock:
            self._writing.pop(name, None)
            self._unsettled.discard(name)
            self._mark_ready(name)
        self.wake.set()

    def _mark_ready(self, name: str) -> None:  # holds _lock
        (self._ready if priority_of(name) == TRANSACTIONAL else self._ready_bulk).add(name)

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

