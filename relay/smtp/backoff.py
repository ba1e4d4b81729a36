"""When to try a smart host again: the whole-host backoff, shared by the relay processes.

HostBackoff is the daemon's memory that the smart host is down: it doubles
from 1 s to 60 s between probes, so a dead host costs a connect a minute, not a spin.
The relay processes sharing a queue share one note, <queue>/smarthost.up, whose
mtime says when one of them last heard the host answer: written (one utime())
at once when a process hears the host again after a pause, else at most once
a second; read (one stat()) at most every half second by a paused process,
whose pause ends when the note is newer than the pause. So when the host comes
back every process resumes within a second, whoever probed first. A note that
cannot be written or read only loses that speed-up: each process then waits out
its own pause, as before. Each failure also leaves <queue>/smarthost.down (one
small JSON: since, until, the error), written only when a host fails, so
`relay status` can say a host is cooling down and why. With several smart hosts
each has its own pair of notes (relay.smtp.smarthosts), and a process also takes a
cool-down another one wrote (`adopt`: a stat() at most every half second, the
JSON read only when it changed), so one failed connect spares the others theirs;
the one host's pause is not adopted: each process keeps probing it, doubling.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from channel.files import replace_file

log = logging.getLogger("relay")

UP_NOTE = "smarthost.up"    # in the queue folder
NOTE_LOOK_EVERY = 0.5       # a paused process stat()s the note this often, at most
NOTE_TELL_EVERY = 1.0       # a process that hears the host touches the note this often, at most


@dataclass
class HostBackoff:
    first: float = 1.0
    cap: float = 60.0
    note: Path | None = None        # <queue>/smarthost.up, shared by the relay processes
    down_note: Path | None = None   # <queue>/smarthost.down: the last failure, for `relay status`
    adopt: bool = False             # take the cool-downs other processes write in down_note
    down_until: float = 0.0
    probing: bool = False           # after a pause: one message at a time until one gets through
    _delay: float = 0.0
    _down_since: float = 0.0
    _looked_at: float = -math.inf
    _told_at: float = -math.inf
    _down_looked_at: float = -math.inf
    _down_seen: float = -math.inf    # the down note's mtime when last read
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def failed(self, now: float, why: str = "") -> float:
        """The host refused or timed out: pause, longer each time; returns the pause."""
        with self._lock:
            self._delay = min(self.cap, self._delay * 2) if self._delay else self.first
            self.down_until = now + self._delay
            self._down_since = now
            self.probing = True
            delay = self._delay
        if self.down_note is not None:
            _write_down_note(self.down_note, now, now + delay, why)
        return delay

    def answered(self, now: float) -> None:
        """The host spoke SMTP (whatever it said): it is up; tell the other processes."""
        with self._lock:
            was_down = self.probing
            self._delay = 0.0
            self.down_until = 0.0
            self.probing = False
            # At once after an outage; else now and then, for a process that paused alone.
            if self.note is not None and (was_down or now - self._told_at >= NOTE_TELL_EVERY):
                self._told_at = now
                _touch(self.note, now)

    def try_now(self) -> None:
        """An admin asked for mail to go now (`relay retry`, the dashboard): end the pause, as
        `postqueue -f` makes Postfix's qmgr forget a dead site. Still one message first, and
        if the host is still down the next pause is the doubled one: a retry costs one connect."""
        with self._lock:
            self.down_until = 0.0

    def paused(self, now: float) -> bool:
        with self._lock:
            if now >= self.down_until:
                return self._adopted(now)
            if self.note is None or now - self._looked_at < NOTE_LOOK_EVERY:
                return True
            self._looked_at = now
            if _mtime(self.note) <= self._down_since:
                return True
            self.down_until = 0.0   # still probing: one message first, then full speed
        log.info("smart host answered another relay process sharing the queue: pause ended")
        return False


    def _adopted(self, now: float) -> bool:  # holds _lock
        """Whether another process's cool-down, newer than this one's and than the last time
        any process heard the host, holds now: then it is this process's too."""
        if not self.adopt or self.down_note is None or now - self._down_looked_at < NOTE_LOOK_EVERY:
            return False
        self._down_looked_at = now
        written = _mtime(self.down_note)
        if written <= self._down_seen:
            return False
        self._down_seen = written
        note = read_down_note(self.down_note)
        if note is None or not note["until"] > now or not note["since"] > self._down_since \
                or _mtime(self.note) > note["since"]:
            return False
        self.down_until, self._down_since, self.probing = float(note["until"]), float(note["since"]), True
        self._delay = max(self._delay, self.first)
        log.info("smart host cooling down, as another relay process sharing the queue found: %s",
                 note["error"])
        return True


def _touch(note: Path, now: float) -> None:
    """Set the note's mtime to `now`, making it if missing; one utime() when it exists."""
    try:
        try:
            os.utime(note, (now, now), follow_symlinks=False)
        except FileNotFoundError:
            fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                os.utime(fd, (now, now))
            finally:
                os.close(fd)
    except OSError as e:  # the note only speeds up recovery: never a reason to stop delivering
        log.debug("cannot update %s: %s", note, e)


def _write_down_note(path: Path, since: float, until: float, why: str) -> None:
    """The last failure as JSON, replaced whole (a reader never sees half of it)."""
    try:
        replace_file(path, json.dumps({"since": since, "until": until, "error": why}).encode(), 0o600)
    except OSError as e:  # only `relay status` misses it
        log.debug("cannot write %s: %s", path, e)


def read_down_note(path: Path) -> dict | None:
    """The last failure a relay wrote ({"since", "until", "error"}), or None."""
    try:
        note = json.loads(path.read_text())
        return note if isinstance(note, dict) and {"since", "until", "error"} <= note.keys() else None
    except (OSError, ValueError):
        return None


def last_answered(note: Path) -> float | None:
    """When a relay last heard the host answer (the up note's mtime), or None."""
    seen = _mtime(note)
    return None if seen == -math.inf else seen


def _mtime(note: Path) -> float:
    try:
        return os.stat(note, follow_symlinks=False).st_mtime
    except OSError:
        return -math.inf
