"""Knowing when a pickup file is complete: watchdog events, start-up scan, periodic rescan.

Events are hints, the folder is the truth. A file renamed into place (the
spooler's hidden temp name -> *.eml, `mv` from elsewhere, `relay drop`) is
ready at once: a rename is atomic. Anything else (written in place and
closed, perhaps to be opened again by `>>`; found by a scan) is ready once
its mtime is older than the settle time, or once it has stood still (same
size, mtime and inode) for the settle time by this process's monotonic
clock, and no write event says it is still open: a future mtime or a clock
stepped back never strands a file. Hidden and *.tmp names are never taken. The kernel is asked
only for renames-in, writes and close-after-write (see _PickupEmitter), so
the relay's own reads, links, renames and unlinks in pickup cost no events.
Watchdog callbacks only record names and wake the daemon; they never open or
parse a file. Overflowed or missed events only delay a message until a rescan.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
from watchdog.observers.inotify_c import InotifyConstants

from spooler.names import BULK, TRANSACTIONAL, is_message_name, priority_of

SETTLE = 2.0          # seconds a file not renamed into place must stand still before it is taken
WRITER_GIVE_UP = 600  # a write event with no close after this long: trust the settle check
READY_CAP = 5000      # ready names held per class; the rest wait in the folder for a rescan
THEIRS_CAP = 200      # names another relay process claims first, kept per class by a scan


class PickupWatcher:
    """Tracks which pickup names are ready to claim. Thread-safe; wakes `wake` on news."""

    def __init__(self, pickup_dir: str | os.PathLike, wake: threading.Event, settle: float = SETTLE,
                 ready_cap: int = READY_CAP, ours: Callable[[str], bool] | None = None,
                 theirs_cap: int = THEIRS_CAP):
        """ours: which names this process claims first when relay processes share pickup
        (None: all); a scan keeps at most `theirs_cap` of the others' per class."""
        self.dir = Path(pickup_dir)
        self._dir_str = str(self.dir)
        self.wake = wake
        self.settle = settle
        self.ready_cap = ready_cap
        self.ours = ours
        self.theirs_cap = theirs_cap
        self._lock = threading.Lock()
        self._ready: set[str] = set()          # transactional names
        self._ready_bulk: set[str] = set()
        self._writing: dict[str, float] = {}   # name -> last write event (open for writing)
        self._settling: dict[str, tuple[tuple, float]] = {}  # name -> (what it looked like, since)
        self._more = False                     # ready names of ours were left in the folder (cap)
        self._more_theirs = False              # and of the other processes' (beyond theirs_cap)
        self._observer = None

    def start(self) -> None:
        observer = _PickupObserver()
        observer.schedule(_Events(self), str(self.dir), recursive=False)
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
            return bool(self._settling)

    def recheck(self, now: float | None = None) -> None:
        """Look again at the files waiting to settle only (a stat each, no folder scan)."""
        now = time.time() if now is None else now
        with self._lock:
            names = list(self._settling)
        ready = False
        for name in names:
            try:
                st = os.stat(self.dir / name, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            with self._lock:
                if name not in self._settling:
                    continue  # claimed or renamed meanwhile
                if st is None:
                    del self._settling[name]
                elif self._settled(name, st, now, time.monotonic()):
                    del self._settling[name]
                    self._mark_ready(name)
                    ready = True
        if ready:
            self.wake.set()

    def rescan(self, now: float | None = None) -> None:
        """Look at the folder itself: catch missed events and settle what had none.

        Holds at most READY_CAP names per class (the oldest), and of the names another
        process claims first only the oldest theirs_cap; with more in the folder,
        `needs_rescan()` asks for another look once those are taken. Names are chosen
        first and only the chosen are stat()ed (whether each has settled): a backlog of
        10,000 shared by two processes cost each 10,000 stats a scan, and a second scan.
        """
        now = time.time() if now is None else now
        try:
            entries = os.scandir(self.dir)
        except FileNotFoundError:
            return
        chosen = {(priority, mine): _Oldest(self.ready_cap if mine else self.theirs_cap)
                  for priority in (TRANSACTIONAL, BULK) for mine in (True, False)}
        ours = self.ours
        with self._lock, entries:
            writing, carried = {}, {}
            mono = time.monotonic()
            for entry in entries:
                name = entry.name
                if not is_message_name(name):
                    continue
                last_write = self._writing.get(name)
                if last_write is not None and mono - last_write < WRITER_GIVE_UP:
                    writing[name] = last_write
                    continue
                if name in self._settling:   # still here: its settle clock runs on
                    carried[name] = self._settling[name]
                chosen[(priority_of(name), ours is None or ours(name))].offer(name)
            # Events wait for the lock, so the scan is the whole truth: what left is forgotten.
            self._writing, self._settling = writing, carried
            for (priority, _mine), oldest in chosen.items():
                ready = self._ready if priority == TRANSACTIONAL else self._ready_bulk
                for name in oldest.names():
                    try:
                        st = os.stat(f"{self._dir_str}/{name}", follow_symlinks=False)
                    except FileNotFoundError:
                        self._settling.pop(name, None)
                        continue
                    if self._settled(name, st, now, mono):
                        self._settling.pop(name, None)
                        ready.add(name)   # with what events said: at most twice the cap
            self._more = any(found.overflowed for (_p, mine), found in chosen.items() if mine)
            self._more_theirs = any(found.overflowed for (_p, mine), found in chosen.items() if not mine)
            ready_now = any(self._ready) or any(self._ready_bulk)
        if ready_now:
            self.wake.set()

    def _settled(self, name: str, st: os.stat_result, now: float, mono: float) -> bool:
        """Has this file stood still long enough? Holds _lock; tracks it in _settling if not."""
        if now - st.st_mtime >= self.settle:  # never for a future mtime
            return True  # untouched for that long by the wall clock (a backlog at start)
        looks = (st.st_size, st.st_mtime_ns, st.st_ino)
        seen = self._settling.get(name)
        if seen is not None and seen[0] == looks:
            return mono - seen[1] >= self.settle
        self._settling[name] = (looks, mono)  # new or changed: the settle time starts again
        return False

    def needs_rescan(self) -> bool:
        """True when the folder holds more of ours than was taken in and most of that is given
        out, or holds more of the other processes' and none is left to give out (help them
        only once idle: with two processes theirs always overflow, and a scan of a backlog
        per process per second cost more than the help)."""
        with self._lock:
            held = len(self._ready) + len(self._ready_bulk)
            return (self._more and held < self.ready_cap // 4) or (self._more_theirs and held == 0)

    # -- what the events say ------------------------------------------------------------------

    def _complete(self, name: str) -> None:
        with self._lock:
            self._writing.pop(name, None)
            self._settling.pop(name, None)
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
            self._writing[name] = time.monotonic()
            self._settling.pop(name, None)

    def _closed(self, name: str) -> None:
        """Closed after writing, in place: it may be opened again (`>>`), so it must settle."""
        with self._lock:
            self._writing.pop(name, None)
            self._settling[name] = ((), time.monotonic())  # matches no stat: tracked from now
        self.wake.set()


class _Oldest:
    """Keeps the `size` smallest names offered (ids sort by time), in O(size) memory.

    Names are kept in a list sorted and cut back to `size` whenever it doubles, in C:
    a heap ordered by a Python __lt__ cost a call per comparison, about 40 ms a scan of
    10,000 names. A name not below the largest kept after a cut is refused at once."""

    def __init__(self, size: int):
        self.size, self.kept, self.overflowed = size, [], False
        self._bound: str | None = None   # the largest name kept at the last cut

    def offer(self, name: str) -> None:
        if self._bound is not None and name >= self._bound:
            self.overflowed = True
            return
        self.kept.append(name)
        if len(self.kept) >= 2 * self.size:
            self._cut()

    def names(self) -> list[str]:
        self._cut()
        return self.kept

    def _cut(self) -> None:
        if len(self.kept) > self.size:
            self.kept.sort()
            del self.kept[self.size:]
            self.overflowed = True
            self._bound = self.kept[-1] if self.kept else ""


def _take(names: set[str], limit: int) -> list[str]:
    if limit <= 0:
        return []
    taken = sorted(names)   # in C: heapq.nsmallest compares in Python, twice the time for 5,000
    del taken[limit:]
    names.difference_update(taken)
    return taken


class _PickupEmitter(InotifyEmitter):
    """Asks the kernel only for renames into the folder, writes and close-after-write.

    Not IN_CREATE (an open() says nothing of completeness, and would hide a rename-in,
    which watchdog reports as the same created event) and not IN_MOVED_FROM (watchdog
    holds back a rename out of the folder for half a second to pair it, and queues every
    later event behind it). So a created event here always means renamed into place.
    """

    def get_event_mask_from_filter(self) -> int:
        return (InotifyConstants.IN_DELETE_SELF | InotifyConstants.IN_MOVED_TO
                | InotifyConstants.IN_MODIFY | InotifyConstants.IN_CLOSE_WRITE)


class _PickupObserver(InotifyObserver):
    def __init__(self) -> None:
        super().__init__()
        self._emitter_class = _PickupEmitter


class _Events(FileSystemEventHandler):
    def __init__(self, watcher: PickupWatcher):
        self.watcher = watcher
        self.folder = str(watcher.dir)

    def _name(self, path: str | bytes) -> str | None:
        path = os.fsdecode(path)
        head, name = os.path.split(path)
        return name if head == self.folder and is_message_name(name) else None

    def on_created(self, event: FileSystemEvent) -> None:  # renamed into place: complete
        if name := self._name(event.src_path):
            self.watcher._complete(name)

    def on_moved(self, event: FileSystemEvent) -> None:    # (never paired without IN_MOVED_FROM)
        if name := self._name(event.dest_path):
            self.watcher._complete(name)

    def on_closed(self, event: FileSystemEvent) -> None:   # written in place and closed
        if name := self._name(event.src_path):
            self.watcher._closed(name)

    def on_modified(self, event: FileSystemEvent) -> None:  # written to: still open
        if not event.is_directory and (name := self._name(event.src_path)):
            self.watcher._being_written(name)
