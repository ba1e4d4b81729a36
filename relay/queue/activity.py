"""What one relay process has seen lately, for the dashboard: deliveries, the smart host's state.

The daemon's workers tell Activity each delivery and each answer (or silence) of the
smart host; the control thread (relay.daemon.control) writes it every few seconds to
<queue>/pids/PID.activity (beside the pid files: private to the relay), and the
one that publishes the snapshot adds up the files of the live relays (relay.queue.pids),
so the rate and the host's state are true for every process sharing the queue.
Nothing here decides anything; a file that cannot be written only leaves the
dashboard's figures out of date.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from channel.files import replace_file
from relay.queue.pids import RelayProcess

WINDOW = 300.0        # deliveries are counted over the last 5 minutes (and the last minute)
FOLDER = "pids"       # in the queue folder, beside relay.queue.pids's PID.pid
SUFFIX = ".activity"
ACTIVITY_MODE = 0o600


class Activity:
    """Thread-safe: workers record, the control thread reads."""

    def __init__(self):
        self._lock = threading.Lock()
        # [second, deliveries in it]: at most WINDOW pairs however fast mail goes (a time per
        # delivery was 600,000 floats at 2,000/s, written out every few seconds)
        self._sent: deque[list[int]] = deque()
        self.host: dict = {"reachable": None, "detail": "no attempt yet", "at": None}
        self.last_error: dict | None = None   # {"reply", "at"}: the last reply that was not 2xx

    def delivered(self, now: float) -> None:
        second = int(now)
        with self._lock:
            if self._sent and self._sent[-1][0] == second:
                self._sent[-1][1] += 1
            else:
                self._sent.append([second, 1])
                self._trim(now)

    def host_answered(self, now: float) -> None:
        with self._lock:
            self.host = {"reachable": True, "detail": "answered", "at": now}

    def host_failed(self, now: float, reply: str) -> None:
        with self._lock:
            self.host = {"reachable": False, "detail": reply, "at": now}
            self.last_error = {"reply": reply, "at": now}

    def refused(self, now: float, reply: str) -> None:
        """A reply that deferred or refused a message (the host answered, but not 250)."""
        with self._lock:
            self.last_error = {"reply": reply, "at": now}

    def to_json(self, now: float) -> dict:
        with self._lock:
            self._trim(now)
            return {"at": now, "pid": os.getpid(), "sent": [list(p) for p in self._sent],
                    "host": dict(self.host),
                    "last_error": dict(self.last_error) if self.last_error else None}

    def _trim(self, now: float) -> None:
        while self._sent and self._sent[0][0] < now - WINDOW:
            self._sent.popleft()

    def save(self, queue_dir: Path, now: float) -> None:
        """Write this process's figures to <queue>/pids/PID.activity, replaced whole, private
        to the relay (0600, like the queue); raises OSError."""
        folder = Path(queue_dir) / FOLDER
        folder.mkdir(mode=0o700, exist_ok=True)
        replace_file(folder / f"{os.getpid()}{SUFFIX}", json.dumps(self.to_json(now)).encode(),
                     ACTIVITY_MODE)


def combined(queue_dir: Path, relays: list[RelayProcess], now: float) -> dict:
    """The figures of every live relay on this queue, added up: deliveries in the last minute
    and 5 minutes, the smart host as the process that heard from it last saw it, the last
    error any of them met. Files of relays no longer running are removed."""
    folder = Path(queue_dir) / FOLDER
    live = {r.pid for r in relays} | {os.getpid()}
    sent_1m = sent_5m = 0
    host, last_error = None, None
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        names = []
    for name in names:
        if name.startswith(".") or not name.endswith(SUFFIX):
            continue
        pid = name.removesuffix(SUFFIX)
        if not pid.isdigit() or int(pid) not in live:
            (folder / name).unlink(missing_ok=True)
            continue
        try:
            data = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        sent = list(_per_second(data.get("sent", [])))
        sent_5m += sum(n for t, n in sent if t >= now - WINDOW)
        sent_1m += sum(n for t, n in sent if t >= now - 60)
        seen = data.get("host") or {}
        if seen.get("at") is not None and (host is None or seen["at"] > host["at"]):
            host = seen
        error = data.get("last_error")
        if error and (last_error is None or error["at"] > last_error["at"]):
            last_error = error
    return {"sent_last_minute": sent_1m, "sent_last_5_minutes": sent_5m,
            "per_minute": round(sent_5m / (WINDOW / 60), 1),
            "smarthost": host or {"reachable": None, "detail": "no attempt yet", "at": None},
            "last_error": last_error}


def _per_second(sent: list) -> Iterator[tuple[float, int]]:
    """(second, deliveries) from a file's "sent": [second, count] pairs, or one time per
    delivery as a relay of an earlier version writes it."""
    for item in sent if isinstance(sent, list) else ():
        if isinstance(item, int | float):
            yield item, 1
        elif (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int | float)
              and isinstance(item[1], int)):
            yield item[0], item[1]
