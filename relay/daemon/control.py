"""The relay's side of the queue dashboard: one thread that publishes status and carries out requests.

Every REQUEST_POLL seconds it carries out the move requests waiting in
<admin_dir>/requests/ (relay.admin.move_requests); every PUBLISH_EVERY seconds
(channel.status: the site tells a stale snapshot by it), and at once after a request, it
saves this process's activity (relay.queue.activity) and, unless another relay process
sharing the queue has just done it (an flock on <queue>/status.lock and the snapshot's
mtime decide), publishes <admin_dir>/status.json (built by relay.admin.status, written
by channel.status). Reads [relay] admin_dir (empty: no thread).
Nothing it does can stop delivery: each failure is logged once per kind and the
thread goes on.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable

from channel import status
from relay.admin.move_requests import RequestCarrier, make_folders
from relay.admin.shown_rows import ShownRows
from relay.admin.status import dashboard_snapshot
from relay.queue.activity import Activity
from relay.queue.folders import Queue
from settings import Config

log = logging.getLogger("relay")

REQUEST_POLL = 0.5       # seconds between looks at requests/
SWEEP_EVERY = 600.0      # old results are removed this often
LOCK_NAME = "status.lock"   # in the queue folder


class Control:
    def __init__(self, config: Config, queue: Queue, activity: Activity,
                 on_due: Callable[[], None] = lambda: None):
        self.config = config
        self.admin_dir = config.relay.admin_dir
        self.queue = queue
        self.activity = activity
        self.on_due = on_due   # a request made mail due: the daemon looks at deferred/ now
        self.carrier = RequestCarrier(self.admin_dir, queue)
        self.rows = ShownRows()   # the dashboard's rows, read again only where a file changed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_publish = 0.0
        self._next_sweep = 0.0
        self._failing: set[str] = set()   # what failed, said once until it works again

    def start(self) -> None:
        self._guarded(f"make the dashboard's folders in {self.admin_dir}", make_folders,
                      self.admin_dir)
        self._thread = threading.Thread(target=self._loop, name="relay-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once(time.time())
            self._stop.wait(REQUEST_POLL)

    def run_once(self, now: float) -> None:
        """Carry out waiting requests; publish when due (at once after a request)."""
        done = self._guarded("carry out dashboard requests", self.carrier.carry_out_pending, now)
        if done:
            self._next_publish = 0.0
            self.on_due()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            self._guarded("remove old dashboard results", self.carrier.sweep_results, now)
        if now >= self._next_publish:
            self._next_publish = now + status.PUBLISH_EVERY
            self._guarded("save this relay's activity", self.activity.save, self.queue.root, now)
            self._guarded(f"publish {self.admin_dir / status.STATUS_NAME}", self.publish, now,
                          bool(done))

    def publish(self, now: float, force: bool = False) -> bool:
        """Write status.json unless another relay process is writing it or just did."""
        fd = os.open(self.queue.root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            if not force:
                try:
                    last = os.stat(self.admin_dir / status.STATUS_NAME).st_mtime
                    if last > now - status.PUBLISH_EVERY * 0.8:
                        return False
                except FileNotFoundError:
                    pass
            status.write(self.admin_dir, dashboard_snapshot(self.config, self.queue, now, self.rows))
            return True
        finally:
            os.close(fd)

    def _guarded(self, what: str, step: Callable, *args):
        try:
            result = step(*args)
        except Exception as e:  # the dashboard's trouble must never stop the relay
            if what not in self._failing:
                self._failing.add(what)
                log.error("cannot %s: %s (the dashboard shows older figures until it can)",
                          what, getattr(e, "strerror", None) or e)
            return None
        if what in self._failing:
            self._failing.discard(what)
            log.info("can %s again", what)
        return result
