"""The relay daemon: wires watch -> queue -> deliver, in priority order, and stops cleanly.

One dispatcher (run_once) decides what is attempted next: transactional mail
before bulk; within a class new mail from pickup, with one claim in
RETRY_SHARE going to a due retry (or a message recovered after a crash) so
retries never starve behind a backlog. It claims a few messages per
connection ahead of the workers (transactional mail has its own allowance and
workers take it first), so a password reset dropped during a newsletter waits
for the sends in flight, not for the backlog. Each of `connections` worker
threads owns one reused SMTP connection, takes claimed messages from the
WorkQueue, and turns every attempt into exactly one queue move, the one
relay.delivery.fate decides, and one log line per outcome. With several smart hosts
(relay.smtp.smarthosts) each attempt tries them in turn, each at most once, skipping
those cooling down: a host that cannot be used (refused, 421 greeting, TLS,
login) cools down and the message goes to the next one in the same attempt;
a 4xx or 5xx reply is the message's answer, as from a single host. While every
host is down the dispatcher pauses, pickup simply holds the mail and
claimed mail not yet tried goes back to deferred/, due now; a pause ends
early when another relay process sharing the queue hears the host
(<queue>/smarthost.up, see relay.smtp.backoff), or when an admin asks for a retry
(flush: SIGUSR1 or the dashboard), as `postqueue -f` does. Each message is DKIM-signed by
relay.delivery.signing just before it is sent when [relay.dkim] is set; a message that
cannot be signed is deferred, never sent unsigned. With [relay] delivery_reports,
a message that lands in badmail after SMTP refusals or expiry earns its sender one
relay.delivery.dsn report, placed in pickup after the move (a report that cannot be
written is logged, never keeps the message out of badmail). With [relay] admin_dir set,
relay.daemon.control publishes the queue's status for the site's dashboard and carries
out the moves it asks for. Reads [relay] and [pickup].
Crash safety: every state is a file in a folder; active/ files are locked by
their worker and taken again at start when no live relay holds them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque

from relay.daemon.activity import Activity
from relay.daemon.control import Control
from relay.daemon.logsetup import reopen_log_files
from relay.daemon.metrics import RelayMetrics
from relay.daemon.watch import SETTLE, PickupWatcher
from relay.daemon.workqueue import WorkQueue
from relay.delivery.dsn import build_report, failures, report_address, why_not
from relay.delivery.fate import GONE, Fate, decide, unsendable
from relay.delivery.feedback import FeedbackFile, failed_recipients, message_id_of
from relay.delivery.retry import RetrySchedule
from relay.delivery.signing import DkimSigner, SigningFailed
from relay.queue.folders import (
    ACTIVE,
    BADMAIL,
    DEFERRED,
    PICKUP,
    Attempt,
    Claimed,
    History,
    NoSpace,
    Queue,
    Unclaimable,
    iso_time,
    printable,
)
from relay.smtp.client import DeliveryResult, Outcome, RecipientReply, SmtpConnection
from relay.smtp.smarthosts import SmartHost, SmartHosts
from relay.smtp.tls import weak_settings
from settings import Config
from spooler.envelope import MalformedMessage, ParsedMessage, UnsafeHeaderError, parse_pickup
from spooler.names import BULK, PRIORITIES, TRANSACTIONAL, priority_of
from spooler.pickup import PickupError, PickupWriter

log = logging.getLogger("relay")

RESCAN = 30.0            # full look at pickup and deferred/, whatever the events said
UNSETTLED_RECHECK = 0.25  # how soon to look again at files waiting to settle
IDLE_CLOSE = 5.0         # close a worker's connection after this long without work
STOP_GRACE = 15.0        # on SIGTERM, how long in-flight sends may take before they are cut
CANDIDATE_WINDOW = 2000   # names held per folder ahead of claiming: memory stays flat
AHEAD_PER_CONNECTION = 4  # claimed messages kept waiting per connection
BADMAIL_SWEEP = 3600.0   # how often badmail older than [relay] badmail_max_age is removed
SIGNAL_POLL = 0.2         # how often run() looks at the flags signal handlers set
RETRY_SHARE = 4           # while pickup has more, one claim in this many goes to a due retry
NO_SPACE_RETRY = 60.0     # a message whose outcome a full disk kept from being written: tried again after

_ORDER = ((TRANSACTIONAL, PICKUP), (TRANSACTIONAL, DEFERRED), (BULK, PICKUP), (BULK, DEFERRED))


class Relay:
    def __init__(self, config: Config, *, settle: float = SETTLE, signer: DkimSigner | None = None):
        self.config = config
        relay = config.relay
        self.queue = Queue(relay.queue_dir, config.pickup.dir, archive=relay.archive)
        self.schedule = RetrySchedule(relay.retry_schedule)
        self.smarthosts = SmartHosts(relay, self.queue.root)
        self.wake = threading.Event()
        self.watcher = PickupWatcher(config.pickup.dir, self.wake, settle)
        self.counts: Counter[str] = Counter()
        self.metrics = RelayMetrics(self.queue, [h.label for h in self.smarthosts.hosts])
        self.metrics_address: tuple[str, int] | None = None
        self.feedback = FeedbackFile(relay.feedback_file)
        self.report_from = report_address(relay.report_from)
        self.reports = PickupWriter(config.pickup.dir)
        self.activity = Activity()   # what the dashboard shows: deliveries, the host's state
        self.control = Control(config, self.queue, self.activity, on_due=self.flush) \
            if relay.admin_dir is not None else None
        # The keys are read once, here (DkimSetupError stops the start), unless `relay run` did.
        self.signer = signer if signer is not None else DkimSigner.load(relay.dkim)
        self._next_badmail_sweep = 0.0
        # Set by signal handlers: plain stores, no locks (a handler that takes a lock the
        # interrupted main thread holds deadlocks the process). run() polls them.
        self._reopen_logs = False
        self._stop_requested = False
        self._flush_requested = False
        self.work = WorkQueue(self.smarthosts, low_mark=relay.connections, on_low=self.wake.set)
        self._candidates: dict[tuple[str, str], deque[str]] = {key: deque() for key in _ORDER}
        self._known: set[tuple[str, str]] = set()
        self._since_retry = {p: 0 for p in PRIORITIES}   # claims from pickup since the last retry
        self._next_rescan = 0.0
        self._last_rescan = 0.0
        self._last_recheck = 0.0
        self._next_deferred_scan = 0.0
        self._workers: list[_Worker] = []
        self.started = threading.Event()   # set once watching and workers are up

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Check folders, take back a dead relay's active/ files, start watching and workers."""
        self.queue.create()
        for exposed in self.queue.exposed_folders():
            log.warning("queue folder open to other users: %s (chmod go-rwx it)", exposed)
        recovered = self._recover_active()
        if recovered:
            log.info("recovered %d message(s) left in active/ by a stopped relay", recovered)
        self.watcher.start()
        if self.config.relay.metrics_listen:
            self.metrics_address = self.metrics.serve(self.config.relay.metrics_listen)
            log.info("metrics on http://%s:%d/metrics", *self.metrics_address)
        for n in range(self.config.relay.connections):
            worker = _Worker(self, n)
            worker.start()
            self._workers.append(worker)
        if self.control is not None:
            self.control.start()
        self.started.set()
        hosts = self.config.relay.hosts
        log.info("relay started: config=%s pickup=%s queue=%s smarthost=%s connections=%d "
                 "retry_schedule=%s dkim=%s",
                 self.config.path or "embedded defaults", self.config.pickup.dir, self.queue.root,
                 ",".join(h.label for h in hosts), self.config.relay.connections,
                 ",".join(f"{d:g}s" for d in self.config.relay.retry_schedule),
                 ",".join(self.signer.keys) or "none")
        for host in hosts:
            log.info("smart host %s: tls=%s auth=%s rate_limit=%s%s", host.label, host.tls,
                     host.username or "none", host.rate_limit or "none",
                     f" weight={host.weight}" if len(hosts) > 1 and host.weight else "")
            for weak in weak_settings(host):  # at every start, so nobody forgets it was chosen
                log.warning("%s", weak)

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
                    self._next_deferred_scan = 0.0
                    self.smarthosts.try_now()   # the admin may have just fixed the smart host
                sleep = self.run_once(time.time())
                self.wake.wait(timeout=min(max(0.0, sleep), SIGNAL_POLL))
                self.wake.clear()
        finally:
            self.shutdown()

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
        for claimed in self.work.drain():
            try:
                self.queue.put_back(claimed)
            except OSError as e:  # a full or broken disk: left in active/, taken again at start
                log.error("%s: cannot move it back to deferred/ (%s); it stays in active/ until a "
                          "relay starts", claimed.queue_id, e.strerror or e)
                claimed.release()
        self.watcher.stop()
        self.metrics.close()
        log.info("relay stopped: %s", _summary(self.counts))

    # -- dispatching ---------------------------------------------------------------------------

    def run_once(self, now: float) -> float:
        """One pass: gather what is ready, claim as much as the workers can take.

        Returns how long the caller may sleep before the next pass is useful.
        """
        if now >= self._next_badmail_sweep:
            self._next_badmail_sweep = now + BADMAIL_SWEEP
            removed = self.queue.expire_badmail(self.config.relay.badmail_max_age, now)
            if removed:
                log.info("removed %d badmail message(s) older than badmail_max_age", removed)
        if self.smarthosts.paused(now):
            self._put_back_waiting()
            return self.smarthosts.down_until - now
        if self.watcher.needs_rescan():  # a backlog larger than the names held: next batch
            self._next_rescan = min(self._next_rescan, self._last_rescan + 1.0)
        if now >= self._next_rescan:
            self._last_rescan = self._last_recheck = now
            self.watcher.rescan(now)
            self._next_rescan = now + RESCAN
        elif self.watcher.has_unsettled() and now - self._last_recheck >= UNSETTLED_RECHECK:
            self._last_recheck = now  # files waiting to stand still: a stat each, no scan
            self.watcher.recheck(now)
        rooms = [max(0, CANDIDATE_WINDOW - len(self._candidates[(p, PICKUP)])) for p in PRIORITIES]
        for name in self.watcher.take_ready(*rooms):
            self._add_candidate(PICKUP, name)
        if now >= self._next_deferred_scan:
            due, next_due = self.queue.due(DEFERRED, now)
            room = CANDIDATE_WINDOW - sum(len(self._candidates[(p, DEFERRED)]) for p in PRIORITIES)
            for name in due[: max(0, room)]:
                self._add_candidate(DEFERRED, name)
            if len(due) > room:  # more are due than we hold names for: look again soon
                next_due = now + 1.0
            self._next_deferred_scan = min(now + RESCAN, next_due)
        self._fill()
        wake_at = min(self._next_rescan, self._next_deferred_scan, now + RESCAN)
        if self.watcher.has_unsettled():
            wake_at = min(wake_at, self._last_recheck + UNSETTLED_RECHECK)
        return wake_at - now

    def _put_back_waiting(self) -> None:
        """While the host is paused, claimed mail waits in deferred/, due now, not in active/:
        another relay process that hears the host first takes it at once."""
        waiting = self.work.drain()
        for n, claimed in enumerate(waiting):
            try:
                self.queue.put_back(claimed)
            except OSError as e:  # keep the rest claimed, as before: sent when the pause ends
                log.error("cannot put claimed messages back in deferred/ (%s); %d stay claimed",
                          e, len(waiting) - n)
                for kept in waiting[n:]:
                    self.work.put(kept)
                break
        if waiting:
            self._next_deferred_scan = 0.0
            log.info("smart host paused: %d claimed message(s) back in deferred/, due now",
                     len(waiting))

    def _add_candidate(self, folder: str, name: str) -> None:
        key = (folder, name)
        if key not in self._known:
            self._known.add(key)
            self._candidates[(priority_of(name), folder)].append(name)

    def _capacity(self, priority: str) -> int:
        """How many more messages of this class to claim now.

        While probing a host that was down: one at a time. Otherwise keep up to
        AHEAD_PER_CONNECTION claimed messages per connection waiting, so a worker never
        waits for the dispatcher. Transactional mail has its own allowance: a full
        window of bulk never keeps a password reset from being claimed at once, and
        workers take transactional mail first.
        """
        in_flight, waiting = self.work.load()
        if self.smarthosts.probing:
            return 1 - in_flight - sum(waiting.values())
        window = self.config.relay.connections * AHEAD_PER_CONNECTION
        if priority == TRANSACTIONAL:
            return window - waiting[TRANSACTIONAL]
        return window - sum(waiting.values())

    def _fill(self) -> None:
        while not self.work.stopping.is_set():
            item = self._next_candidate(self._capacity(TRANSACTIONAL) > 0,
                                        self._capacity(BULK) > 0)
            if item is None:
                return
            folder, name = item
            claimed = self._claim(folder, name)
            if claimed is None:
                continue
            self.work.put(claimed)

    def _next_candidate(self, transactional: bool, bulk: bool) -> tuple[str, str] | None:
        """The next name to claim: transactional before bulk; within a class, new mail from
        pickup, except that due retries get one claim in RETRY_SHARE while pickup has more."""
        for priority, allowed in ((TRANSACTIONAL, transactional), (BULK, bulk)):
            if not allowed:
                continue
            fresh, due = self._candidates[(priority, PICKUP)], self._candidates[(priority, DEFERRED)]
            retry_turn = self._since_retry[priority] >= RETRY_SHARE - 1
            if due and (retry_turn or not fresh):
                folder, names = DEFERRED, due
                self._since_retry[priority] = 0
            elif fresh:
                folder, names = PICKUP, fresh
                self._since_retry[priority] += 1
            else:
                continue
            name = names.popleft()
            self._known.discard((folder, name))
            return folder, name
        return None

    def _claim(self, folder: str, name: str) -> Claimed | None:
        try:
            if folder == PICKUP:
                return self.queue.claim_from_pickup(name)
            claimed = self.queue.claim_queued(folder, name)
            if claimed is not None:
                self.metrics.retried.inc()
            return claimed
        except Unclaimable as e:
            try:
                queue_id = self.queue.badmail_unreadable(folder, name, str(e))
            except NoSpace as full:
                log.error("%s/%s: %s (%s)", folder, printable(name), full, e)
                return None
            self.counts["badmail"] += 1
            self.metrics.badmail.labels("unreadable").inc()
            log.warning("%s: %s file %r moved to badmail: %s", queue_id, folder, name, e)
        except OSError as e:
            log.error("cannot claim %s/%s: %s (left where it is)", folder, name, e)
        return None

    def _recover_active(self) -> int:
        self.queue.drop_pickup_twins()
        count = 0
        for name in self.queue.names(ACTIVE):
            claimed = self.queue.claim_queued(ACTIVE, name)
            if claimed is not None:  # no live relay holds it: it was in flight when one died
                try:
                    self.queue.put_back(claimed)
                except OSError as e:  # a full disk: it stays in active/, for the next start
                    log.error("%s: cannot move it from active/ to deferred/ (%s); left in active/ "
                              "until a relay starts with space to move it", claimed.queue_id,
                              e.strerror or e)
                    claimed.release()
                    continue
                count += 1
        return count

    # -- one attempt --------------------------------------------------------------------------

    def attempt(self, connections: dict[str, SmtpConnection], claimed: Claimed,
                paid: SmartHost | None = None) -> Outcome:
        """Try one claimed message once and move it to where relay.delivery.fate decides.

        `connections`: the worker's, one per host label; `paid`: the host whose rate-limit
        token the worker already took (tried first if it is still up)."""
        relay = self.config.relay
        data = claimed.read(relay.max_message_size)
        if (size := claimed.size_now()) != claimed.size:
            # A writer still holds the inode (the claim of the relay's own file is a hard
            # link): not an attempt; due again once the file may be complete.
            settle = self.watcher.settle
            self.queue.put_back(claimed, due=time.time() + settle)
            log.warning("%s: pickup file %r went from %d to %d bytes after it was claimed: still "
                        "being written; put back, tried again in %gs (no attempt counted)",
                        claimed.queue_id, printable(claimed.source), claimed.size, size, settle)
            return Outcome.DEFERRED
        history = claimed.history or History(claimed.arrived, claimed.source)
        if len(data) > relay.max_message_size:
            return self._apply(claimed, history, unsendable(
                f"too big: over the {relay.max_message_size:,}-byte limit ([relay] "
                "max_message_size)", history.recipients_left or ()), "too_big")
        try:
            message = parse_pickup(data)
        except MalformedMessage as e:
            return self._apply(claimed, history, unsendable(
                f"not a message that can be sent: {e}", history.recipients_left or ()), "malformed")
        now = time.time()
        recipients = history.recipients_left or list(message.recipients)
        result = self._deliver(connections, claimed, history, message, recipients, paid)
        fate = decide(result, history, now, relay)
        history.attempts.append(Attempt(now, _first_code(result), _summary_reply(result),
                                        recipients, fate.charged))
        self._log_attempt(claimed, message.sender, result, len(history.attempts))
        return self._apply(claimed, history, fate, "refused", message, result)

    def _deliver(self, connections: dict[str, SmtpConnection], claimed: Claimed, history: History,
                 message: ParsedMessage, recipients: list[str],
                 paid: SmartHost | None = None) -> DeliveryResult:
        """Sign (when [relay.dkim] asks) and send; a signing failure is a reply with no code,
        hence a deferral, and nothing goes on the network."""
        if self.signer:
            try:
                signed = self.signer.sign(message)
            except SigningFailed as e:
                return DeliveryResult([RecipientReply(r, None, f"not sent: {e}") for r in recipients])
            if signed.domain is None and not history.attempts:   # said once per message
                log.info("%s: sent without a DKIM signature: %s", claimed.queue_id, signed.unsigned)
            message = signed.message
        result = self._send(connections, message, recipients, paid)
        self.metrics.duration.observe(result.duration)
        for reply in result.replies:
            self.metrics.replies.labels(str(reply.code) if reply.code else "none").inc()
        self.metrics.smarthost_up.set(0 if self.smarthosts.paused(time.time()) else 1)
        if result.host_unavailable:   # what the dashboard shows (relay.daemon.activity)
            self.activity.host_failed(time.time(), str(result.replies[0]))
        else:
            self.activity.host_answered(time.time())
            if result.replies_for(Outcome.DEFERRED) or result.replies_for(Outcome.FAILED):
                self.activity.refused(time.time(), _summary_reply(result))
        return result

    def _send(self, connections: dict[str, SmtpConnection], message: ParsedMessage,
              recipients: list[str], paid: SmartHost | None) -> DeliveryResult:
        """Each host not cooling down in turn, each once, until one answers: its result. A host
        that cannot be used cools down; when none could be, a result saying why for each."""
        hosts = self.smarthosts
        several = len(hosts.hosts) > 1
        failures: list[tuple[SmartHost, DeliveryResult]] = []
        spent = 0.0
        # One host cooling down since this worker took the message: tried anyway, as ever.
        order = hosts.order(time.time(), first=paid) if several else hosts.hosts
        stopped = False
        for host in order:
            if host is not paid and host.limiter is not None and \
                    not host.limiter.acquire(self.work.stopping):
                stopped = True   # what was not sent waits in deferred/
                break
            result = connections[host.label].deliver(message, recipients)
            result.relay = host.label
            spent += result.duration
            if not result.host_unavailable:
                host.backoff.answered(time.time())
                self.metrics.host_up.labels(host.label).set(1)
                result.duration = spent
                return result
            pause = host.backoff.failed(time.time(), str(result.replies[0]))
            self.metrics.host_up.labels(host.label).set(0)
            self.metrics.cooldowns.labels(host.label).inc()
            if several:
                log.warning("smart host %s unavailable (%s): skipped for %.0fs", host.label,
                            result.replies[0], pause)
            else:
                log.warning("smart host unavailable (%s): pausing delivery for %.0fs",
                            result.replies[0], pause)
            failures.append((host, result))
        self.wake.set()   # the dispatcher puts back what waits for a connection
        if not several and failures:
            return failures[0][1]
        if stopped:
            why, code = "not sent: the relay is stopping", None
        elif failures:
            tried = [h for h, _ in failures]
            why = "no smart host could be used: " + "; ".join(
                [f"{h.label}: {r.replies[0]}" for h, r in failures]
                + [f"{h.label}: cooling down" for h in hosts.hosts if h not in tried])
            code = failures[-1][1].replies[0].code
        else:
            why, code = f"not sent: every smart host is cooling down ({hosts.cooling(time.time())})", None
        return DeliveryResult([RecipientReply(r, code, why, setup=True) for r in recipients],
                              duration=spent, host_unavailable=True)

    def _apply(self, claimed: Claimed, history: History, fate: Fate, badmail_class: str,
               message: ParsedMessage | None = None, result: DeliveryResult | None = None) -> Outcome:
        """Carry out a Fate: the one queue move, the counters, the feedback lines for the
        recipients it failed for good and the sender's delivery report (both written after
        the move, so a failed move repeats the attempt, not the line or the report).

        `message` and `result` are None for a message that never reached SMTP."""
        sender = message.sender if message is not None else None
        failed = [] if message is None else failed_recipients(
            claimed.queue_id, message_id_of(message.content), fate, history, time.time())
        history.refused.extend(fate.refused)
        report = self._report(claimed, history, fate, message, result)
        outcome = self._move(claimed, history, fate, badmail_class, sender)
        try:
            self.feedback.append(failed)
        except OSError as e:
            log.error("%s: cannot write the feedback file %s (%s): the refusal is in the "
                      "message's history", claimed.queue_id, self.feedback.path, e.strerror or e)
        if report is not None:
            self._place_report(claimed, report, sender or "")
        return outcome

    def _report(self, claimed: Claimed, history: History, fate: Fate,
                message: ParsedMessage | None, result: DeliveryResult | None) -> bytes | None:
        """The relay.delivery.dsn report a badmail fate owes the sender ([relay] delivery_reports)."""
        if not self.config.relay.delivery_reports or message is None or fate.destination != BADMAIL:
            return None
        why = why_not(message, self.report_from)
        if why is not None:
            log.info("%s: no delivery report: %s", claimed.queue_id, why)
            return None
        now = time.time()
        last = {r.recipient: str(r) for r in result.replies} if result is not None else {}
        failed = failures(fate, history, last, now)
        if not failed:
            return None
        try:
            return build_report(message, failed, queue_id=claimed.queue_id, arrived=history.arrived,
                                report_from=self.report_from, now=now,
                                remote_mta=_answering_host(result, self.config.relay.hosts[0].host))
        except Exception:  # noqa: BLE001 - a report must never keep a message out of badmail
            log.exception("%s: no delivery report: it could not be built", claimed.queue_id)
            return None

    def _place_report(self, claimed: Claimed, report: bytes, recipient: str) -> None:
        """Into pickup from <>, in the original's class: reports about a newsletter never
        delay a password reset. The relay sends it like any other message."""
        try:
            path = self.reports.write(report, sender="", recipients=[recipient],
                                      priority=claimed.priority)
        except (PickupError, UnsafeHeaderError) as e:
            log.error("%s: delivery report to <%s> not written: %s (the failure is in badmail)",
                      claimed.queue_id, recipient, e)
            return
        log.info("%s: delivery report to <%s> placed in pickup as %s", claimed.queue_id,
                 recipient, path.name)

    def _move(self, claimed: Claimed, history: History, fate: Fate, badmail_class: str,
              sender: str | None) -> Outcome:
        if fate.destination == DEFERRED:
            history.recipients_left = list(fate.recipients_left)
            lost = self.queue.defer(claimed, history, fate.next_attempt)
            if lost:
                log.error("%s: %s", claimed.queue_id, lost)
            self._next_deferred_scan = min(self._next_deferred_scan, fate.next_attempt)
            self.counts["deferred"] += 1
            self.metrics.attempts.labels("deferred").inc()
            return Outcome.DEFERRED
        if fate.destination == GONE:
            lost = self.queue.delivered(claimed)
            if lost:
                log.error("%s: %s", claimed.queue_id, lost)
            self.counts["sent"] += 1
            self.activity.delivered(time.time())
            self.metrics.attempts.labels("sent").inc()
            return Outcome.SENT
        if history.attempts:
            self.metrics.attempts.labels("failed").inc()
            badmail_class = "expired" if fate.reason.startswith("expired") else badmail_class
        history.recipients_left = list(fate.recipients_left) or None
        self.queue.to_badmail(claimed, _reason_file(claimed, history, fate, sender), history)
        self.counts["badmail"] += 1
        self.metrics.badmail.labels(badmail_class).inc()
        log.warning("%s: moved to badmail: %s", claimed.queue_id, fate.reason)
        return Outcome.FAILED

    def _log_attempt(self, claimed: Claimed, sender: str, result: DeliveryResult, attempt: int) -> None:
        relay_host = result.relay or ",".join(h.label for h in self.smarthosts.hosts)
        for outcome, status, level in ((Outcome.SENT, "sent", logging.INFO),
                                       (Outcome.DEFERRED, "deferred", logging.WARNING),
                                       (Outcome.FAILED, "bounced", logging.WARNING)):
            replies = result.replies_for(outcome)
            if replies:
                rcpts = ",".join(f"<{r.recipient}>" for r in replies)
                log.log(level, "%s: from=<%s> to=%s relay=%s attempt=%d duration=%.3fs "
                        "status=%s (%s)", claimed.queue_id, sender, rcpts, relay_host,
                        attempt, result.duration, status, replies[0])


class _Worker(threading.Thread):
    """One SMTP connection per smart host, opened when used, and the loop that feeds them."""

    def __init__(self, relay: Relay, number: int):
        super().__init__(name=f"relay-worker-{number}", daemon=True)
        self.relay = relay
        self.connections = {h.label: SmtpConnection(h.config) for h in relay.smarthosts.hosts}

    def abort(self) -> None:
        for connection in self.connections.values():
            connection.abort()

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()

    def run(self) -> None:
        relay = self.relay
        try:
            while not relay.work.stopping.is_set():
                claimed, paid = self._next_message()
                if claimed is None:
                    self.close()  # idle: servers drop idle clients anyway
                    continue
                try:
                    relay.attempt(self.connections, claimed, paid)
                except NoSpace as e:  # the cause is known: no traceback
                    log.error("%s: %s: %s (this attempt is not recorded)", claimed.queue_id, e,
                              self._keep(claimed, time.time() + NO_SPACE_RETRY))
                except Exception:
                    log.exception("%s: unexpected error; message kept for another attempt",
                                  claimed.queue_id)
                    self._keep(claimed)
                finally:
                    relay.work.done()
        finally:
            self.close()

    def _keep(self, claimed: Claimed, due: float | None = None) -> str:
        """Put a message whose attempt went wrong back in deferred/ (due at `due`, default now);
        says where it is."""
        if claimed.fd < 0:
            return "already moved"
        try:
            self.relay.queue.put_back(claimed, due)
        except OSError as e:  # a full or broken disk: it stays in active/, taken again at start
            log.error("%s: cannot move it back to deferred/ (%s); it stays in active/ until a "
                      "relay starts", claimed.queue_id, e.strerror or e)
            claimed.release()
            return "kept in active/ until a relay starts"
        if due is None:
            return "put back in deferred/"
        return f"put back in deferred/, tried again in {max(0.0, due - time.time()):.0f}s"

    def _next_message(self) -> tuple[Claimed | None, SmartHost | None]:
        """The next message, and the host whose rate-limit token was taken for it, if any."""
        relay = self.relay
        if not relay.smarthosts.limited:
            return relay.work.take(IDLE_CLOSE), None
        # With a rate limit, take the token first and the message after: whoever
        # waits longest for a token then still gets the most urgent message.
        if not relay.work.wait(IDLE_CLOSE):
            return None, None
        order = relay.smarthosts.order(time.time())
        host = order[0] if order else None
        limiter = host.limiter if host is not None else None
        if limiter is not None and not limiter.acquire(relay.work.stopping):
            return None, None
        claimed = relay.work.take(0.0)
        if claimed is None and limiter is not None:
            limiter.refund()
        return claimed, host


def _first_code(result: DeliveryResult) -> int | None:
    """The code that decided the attempt: a temporary failure, else a permanent one, else 250."""
    for outcome in (Outcome.DEFERRED, Outcome.FAILED, Outcome.SENT):
        replies = result.replies_for(outcome)
        if replies:
            return replies[0].code
    return None


def _summary_reply(result: DeliveryResult) -> str:
    seen = dict.fromkeys(str(r) for r in result.replies)
    return "; ".join(seen)


def _summary(counts: Counter) -> str:
    return " ".join(f"{k}={counts.get(k, 0)}" for k in ("sent", "deferred", "badmail"))




def _reason_file(claimed: Claimed, history: History, fate: Fate, sender: str | None) -> str:
    """The human-readable .bdr: why, for whom, and every attempt."""
    lines = [f"reason: {fate.reason}", f"queue id: {claimed.queue_id}"]
    if history.source:
        lines.append(f"pickup file: {printable(history.source)}")
    if sender is not None:
        lines.append(f"sender: <{sender}>")
    if history.refused:
        lines.append("refused:")
        lines += [f"  <{r.recipient}>: {r.reply} ({iso_time(r.at)})" for r in history.refused]
    owed = [r for r in fate.recipients_left if r not in {x.recipient for x in history.refused}]
    if owed:
        lines.append("undelivered: " + ", ".join(f"<{r}>" for r in owed))
    lines.append(f"arrived: {iso_time(history.arrived)}")
    lines.append(f"attempts: {len(history.attempts)}")
    if history.attempts:
        lines.append(f"first attempt: {iso_time(history.attempts[0].at)}")
        lines.append(f"last attempt: {iso_time(history.attempts[-1].at)}")
        lines.append("history:")
        lines += [f"  {iso_time(a.at)}  {a.reply}  ({', '.join(a.recipients)})" for a in history.attempts]
    lines.append(f"moved to badmail: {iso_time(time.time())}")
    return "\n".join(lines) + "\n"


def _answering_host(result: DeliveryResult | None, default: str) -> str:
    """The smart host that gave the final answer (Remote-MTA of a report)."""
    if result is None or not result.relay:
        return default
    return result.relay.rsplit(":", 1)[0]
