"""The relay daemon's life cycle: build the parts, start them, run the dispatcher, stop cleanly.

Relay wires watch -> dispatch -> workers -> delivery: the PickupWatcher wakes the
Dispatcher (relay.daemon.dispatch), which hands names to the WorkQueue; each of
[relay] connections Workers (relay.daemon.worker) claims one and hands it to the DeliveryAgent
(relay.delivery.agent), whose every attempt ends in one Fate carried out by the Exit
(relay.delivery.exit). With [relay] admin_dir set, relay.daemon.control publishes the
queue's status for the site's dashboard and carries out the moves it asks for; with
[relay] metrics_listen, relay.daemon.metrics serves Prometheus. Signal handlers only
set flags (reopen logs, flush, stop); run() polls them. A flush (SIGUSR1, `relay
retry`, the dashboard) looks at deferred/ at once and ends the smart hosts' cool-down,
as `postqueue -f` does. On stop, in-flight sends get STOP_GRACE to finish, then are
cut; what was chosen and not started was never claimed and stays where it is.
Crash safety: every state is a file in a folder; active/ files are locked by their
worker and taken again at start when no live relay holds them.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from relay.daemon.control import Control
from relay.daemon.dispatch import AHEAD_PER_CONNECTION, Dispatcher, claims_first
from relay.daemon.figures import RelayFigures
from relay.daemon.logsetup import reopen_log_files
from relay.daemon.watch import SETTLE, PickupWatcher
from relay.daemon.worker import Worker
from relay.daemon.workqueue import WorkQueue
from relay.delivery.agent import DeliveryAgent
from relay.delivery.exit import Exit
from relay.delivery.fate import RetryPolicy
from relay.delivery.signing import DkimSigner, load_signer
from relay.queue.activity import Activity
from relay.queue.folders import Queue
from relay.smtp.smarthosts import SmartHosts
from relay.smtp.tls import weak_settings
from settings import Config

log = logging.getLogger("relay")

STOP_GRACE = 15.0         # on SIGTERM, how long in-flight sends may take before they are cut
SIGNAL_POLL = 0.2         # how often run() looks at the flags signal handlers set


class Relay:
    def __init__(self, config: Config, *, settle: float = SETTLE, signer: DkimSigner | None = None,
                 share: tuple[int, int] | None = None):
        """share: (index, count) of a supervisor's child: which pickup names it claims first."""
        self.config = config
        relay = config.relay
        self.queue = Queue.from_config(config)
        self.smarthosts = SmartHosts(relay, self.queue.root)
        self.wake = threading.Event()
        self.watcher = PickupWatcher(config.pickup.dir, self.wake, settle, ours=claims_first(share))
        self.metrics = None   # nothing counted when nobody serves it (and prometheus stays unloaded)
        if relay.metrics_listen or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from relay.daemon.metrics import RelayMetrics

            self.metrics = RelayMetrics(self.queue, [h.label for h in self.smarthosts.hosts])
        self.metrics_address: tuple[str, int] | None = None
        self.activity = Activity()   # what the dashboard shows: deliveries, the host's state
        self.control = Control(config, self.queue, self.activity, on_due=self.flush) \
            if relay.admin_dir is not None else None
        # The keys are read once, here (DkimSetupError stops the start), unless `relay run` did;
        # None: no [relay.dkim], mail goes unsigned and the signing module is never loaded.
        self.signer = signer if signer is not None else load_signer(relay.dkim)
        # refilled when half the names handed out are taken: a pass for many messages, not a few
        self.work = WorkQueue(self.smarthosts, low_mark=relay.connections * AHEAD_PER_CONNECTION // 2,
                              on_low=self.wake.set)
        figures = RelayFigures(self.metrics, self.activity, self.smarthosts)
        self.exit = Exit(config, self.queue, RetryPolicy.from_config(relay), figures)
        self.agent = DeliveryAgent(relay, self.smarthosts, self.signer, self.exit, settle=settle,
                                   stopping=self.work.stopping, on_host_down=self.wake.set)
        self.dispatcher = Dispatcher(relay, self.queue, self.watcher, self.work, self.smarthosts,
                                     self.exit, self.metrics, share)
        # Set by signal handlers: plain stores, no locks (a handler that takes a lock the
        # interrupted main thread holds deadlocks the process). run() polls them.
        self._reopen_logs = False
        self._stop_requested = False
        self._flush_requested = False
        self._workers: list[Worker] = []
        self.started = threading.Event()   # set once watching and workers are up

    @property
    def counts(self):
        """sent, deferred and badmail so far (relay.delivery.exit counts them)."""
        return self.exit.counts

    def start(self) -> None:
        """Check folders, take back a dead relay's active/ files, start watching and workers."""
        self.queue.create()
        for exposed in self.queue.exposed_folders():
            log.warning("queue folder open to other users: %s (chmod go-rwx it)", exposed)
        recovered = self.dispatcher.recover_active()
        if recovered:
            log.info("recovered %d message(s) left in active/ by a stopped relay", recovered)
        self.watcher.start()
        self.dispatcher.pickup_scanned(time.time())
        if self.config.relay.metrics_listen and self.metrics is not None:
            self.metrics_address = self.metrics.serve(self.config.relay.metrics_listen)
            log.info("metrics on http://%s:%d/metrics", *self.metrics_address)
        for n in range(self.config.relay.connections):
            worker = Worker(n, self.work, self.dispatcher.claim, self.agent, self.smarthosts)
            worker.start()
            self._workers.append(worker)
        if self.control is not None:
            self.control.start()
        self.started.set()
        self._log_start()

    def run(self) -> None:
        """Start, dispatch until stop() is called, then shut down cleanly."""
        self.start()
        try:
            while not self._stop_requested:
                if self._reopen_logs:
                    self._reopen_logs = False
                    reopen_log_files()
                if self._flush_requested:
                    self._flush_requested = False
                    self.dispatcher.look_at_deferred_now()
                    self.smarthosts.try_now()   # the admin may have just fixed the smart host
                sleep = self.run_once(time.time())
                self.wake.wait(timeout=min(max(0.0, sleep), SIGNAL_POLL))
                self.wake.clear()
        finally:
            self.shutdown()

    def run_once(self, now: float) -> float:
        """One dispatch pass (relay.daemon.dispatch); how long until the next is useful."""
        return self.dispatcher.run_once(now)

    def reopen_logs(self) -> None:
        """Reopen log files (logrotate's SIGHUP). Safe in a signal handler: only sets a flag."""
        self._reopen_logs = True

    def flush(self) -> None:
        """Look at deferred/ now and end the smart hosts' cool-down (an admin made messages
        due: `relay retry`, release, requeue-badmail, the dashboard). Only sets a flag."""
        self._flush_requested = True

    def stop(self) -> None:
        """Ask run() to finish within SIGNAL_POLL. Only sets a flag."""
        self._stop_requested = True

    def shutdown(self, grace: float = STOP_GRACE) -> None:
        """Stop taking work, let in-flight sends finish (cut after `grace`), put back the rest."""
        self.work.stop()
        if self.control is not None:
            self.control.stop()
        deadline = time.monotonic() + grace
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            if worker.is_alive():
                worker.abort()
                worker.join(timeout=5)
        self._workers.clear()
        self.work.drain()   # names only: what was never claimed stays where it is
        self.watcher.stop()
        if self.metrics is not None:
            self.metrics.close()
        log.info("relay stopped: %s", " ".join(f"{k}={self.counts.get(k, 0)}"
                                               for k in ("sent", "deferred", "badmail")))

    def _log_start(self) -> None:
        relay = self.config.relay
        log.info("relay started: config=%s pickup=%s queue=%s smarthost=%s connections=%d "
                 "retry_schedule=%s dkim=%s",
                 self.config.path or "embedded defaults", self.config.pickup.dir, self.queue.root,
                 ",".join(h.label for h in relay.hosts), relay.connections,
                 ",".join(f"{d:g}s" for d in relay.retry_schedule),
                 ",".join(self.signer.keys if self.signer else ()) or "none")
        for host in relay.hosts:
            log.info("smart host %s: tls=%s auth=%s rate_limit=%s%s", host.label, host.tls,
                     host.username or "none", host.rate_limit or "none",
                     f" weight={host.weight}" if len(relay.hosts) > 1 and host.weight else "")
            for weak in weak_settings(host):  # at every start, so nobody forgets it was chosen
                log.warning("%s", weak)
