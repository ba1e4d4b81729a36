"""The hand-off between the dispatcher and the workers: messages chosen, waiting for a connection.

The dispatcher put()s the name of each message it chose (a Candidate); a worker take()s
the most urgent one (transactional before bulk) when some smart host is not cooling
down, and while probing hosts that were down only one message is in flight at a time;
the worker claims it itself (relay.queue.claims), so claims run in every worker at once
instead of one after another in the dispatcher, which a backlog waited on. done() tells
the dispatcher, through `on_low`, when the waiting line runs short. stop() wakes every
waiting worker; drain() empties the line. Names only: nothing here is claimed, so a
crash, a stop or a pause leaves every message where another relay can take it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from relay.smtp.smarthosts import SmartHosts
from spooler.names import BULK, PRIORITIES, TRANSACTIONAL

BACKOFF_POLL = 0.5   # a host pause ends without a notify: waiting workers look this often


class Candidate(NamedTuple):
    """A message the dispatcher chose: its folder (pickup/, deferred/) and file name. (A tuple:
    one is made for every message.)"""
    folder: str
    name: str
    priority: str


class WorkQueue:
    def __init__(self, hosts: SmartHosts, low_mark: int, on_low: Callable[[], None]):
        self.hosts = hosts
        self.low_mark = low_mark
        self.on_low = on_low
        self.stopping = threading.Event()
        self._cond = threading.Condition()
        self._waiting: dict[str, deque[Candidate]] = {p: deque() for p in PRIORITIES}
        self._in_flight = 0

    # -- the dispatcher's side ------------------------------------------------------------

    def put(self, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        with self._cond:
            for candidate in candidates:
                self._waiting[candidate.priority].append(candidate)
            self._cond.notify(len(candidates))

    def load(self) -> tuple[int, dict[str, int]]:
        """(messages being sent, messages waiting per class)."""
        with self._cond:
            return self._in_flight, {p: len(q) for p, q in self._waiting.items()}

    def stop(self) -> None:
        self.stopping.set()
        with self._cond:
            self._cond.notify_all()

    def drain(self) -> list[Candidate]:
        """Everything still waiting (never started), removed from the line."""
        with self._cond:
            left = [c for q in self._waiting.values() for c in q]
            for q in self._waiting.values():
                q.clear()
        return left

    # -- the workers' side ------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """Wait until a worker may start a message; False on timeout or stop."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.stopping.is_set() and not self._may_start():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, BACKOFF_POLL))
            return not self.stopping.is_set()

    def take(self, timeout: float) -> Candidate | None:
        """The most urgent waiting message, counted in flight until done(); None if none."""
        if not self.wait(timeout):
            return None
        with self._cond:
            if not self._may_start():
                return None
            for priority in (TRANSACTIONAL, BULK):
                if self._waiting[priority]:
                    self._in_flight += 1
                    return self._waiting[priority].popleft()
        return None

    def done(self) -> None:
        """A worker finished a message (whatever became of it)."""
        with self._cond:
            self._in_flight -= 1
            low = sum(len(q) for q in self._waiting.values()) <= self.low_mark
        if low:  # refill in batches, not one wake-up per message
            self.on_low()

    def _may_start(self) -> bool:  # holds _cond
        if not any(self._waiting.values()):
            return False
        if self.hosts.paused(time.time()):
            return False
        return not (self.hosts.probing and self._in_flight > 0)
