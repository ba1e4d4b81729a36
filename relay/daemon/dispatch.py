"""The dispatcher: the one place that decides what is attempted next, as django-mailer's engine does.

run_once() does one pass: transactional mail before bulk; within a class new mail from
pickup, with one name in RETRY_SHARE going to a due retry (or a message recovered
after a crash) so retries never starve behind a backlog. It hands the workers up to
AHEAD_PER_CONNECTION names per connection ahead (names cost nothing until a worker claims
one; transactional mail has its own allowance and workers take it first), so a password
reset dropped during a newsletter waits for the sends in flight, not for the backlog;
each worker claims the name it takes (claim(): a file the relay will not read goes to
badmail there). While every smart host is cooling down it hands out nothing, and
nothing waits claimed: another relay process that hears a host first takes the mail
at once. Names come from the watcher (pickup) and from deferred/
when something there is due; at most CANDIDATE_WINDOW are held per folder, so memory
stays flat with any backlog. Reads [relay] connections and badmail_max_age.
Relay processes sharing pickup (a supervisor's children, `share` = (index, count)) each
take the names that hash to them first, and another's only once they have none of
their own left: two processes working down the same oldest-first list met at every
name (about 1.4 failed claims a message, an open and a lock each). So a backlog splits
in two, a sibling that died or lags is helped as soon as the other is idle, and a lone
new message is still claimed by whichever process is first.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from relay.daemon.watch import THEIRS_CAP, PickupWatcher
from relay.daemon.workqueue import Candidate, WorkQueue
from relay.delivery.exit import KEPT_IN_ACTIVE, Exit
from relay.queue.badmail import expire_badmail
from relay.queue.claims import Claimed, claim_from_pickup, claim_queued, drop_pickup_twins
from relay.queue.files import Unclaimable
from relay.queue.folders import ACTIVE, DEFERRED, PICKUP, Queue
from relay.queue.queued_ids import QueuedIds
from relay.smtp.smarthosts import SmartHosts
from settings import RelayConfig
from spooler.names import BULK, PRIORITIES, TRANSACTIONAL, priority_of

if TYPE_CHECKING:
    from relay.daemon.metrics import RelayMetrics

log = logging.getLogger("relay")

RESCAN = 30.0            # full look at pickup and deferred/, whatever the events said
UNSETTLED_RECHECK = 0.25  # how soon to look again at files waiting to settle
CANDIDATE_WINDOW = 2000   # names held per folder ahead of claiming: memory stays flat
AHEAD_PER_CONNECTION = 16 # names kept waiting per connection
BADMAIL_SWEEP = 3600.0   # how often badmail older than [relay] badmail_max_age is removed
RETRY_SHARE = 4           # while pickup has more, one claim in this many goes to a due retry

_ORDER = ((TRANSACTIONAL, PICKUP), (TRANSACTIONAL, DEFERRED), (BULK, PICKUP), (BULK, DEFERRED))


def claims_first(share: tuple[int, int] | None) -> Callable[[str], bool] | None:
    """Which pickup names a relay process of `share` (index, count) claims first; None: all
    (it works alone). The watcher and the dispatcher both ask it."""
    if share is None or share[1] <= 1:
        return None
    index, count = share
    return lambda name: zlib.crc32(name.encode()) % count == index


class Dispatcher:
    def __init__(self, relay: RelayConfig, queue: Queue, watcher: PickupWatcher, work: WorkQueue,
                 hosts: SmartHosts, exit_: Exit, metrics: RelayMetrics | None,
                 share: tuple[int, int] | None = None):
        self.relay, self.queue, self.watcher, self.work = relay, queue, watcher, work
        self.hosts, self.exit, self.metrics = hosts, exit_, metrics
        self._claims_first = claims_first(share)
        self._candidates: dict[tuple[str, str], deque[str]] = {key: deque() for key in _ORDER}
        # the oldest dropped first: the process whose names they are takes those first
        self._theirs: dict[str, deque[str]] = {p: deque(maxlen=THEIRS_CAP) for p in PRIORITIES}
        self._known: set[tuple[str, str]] = set()
        self._queued = QueuedIds(queue)   # the ids a writer's may clash with (claims._id_for)
        self._since_retry = {p: 0 for p in PRIORITIES}   # claims from pickup since the last retry
        self._next_rescan = 0.0
        self._last_rescan = 0.0
        self._last_recheck = 0.0
        self._next_deferred_scan = 0.0
        self._next_badmail_sweep = 0.0

    def pickup_scanned(self, now: float) -> None:
        """The watcher has just looked at pickup (its start): the first pass need not again
        (it did, ~25 ms of CPU a process for a backlog of 10,000)."""
        self._last_rescan = self._last_recheck = now
        self._next_rescan = now + RESCAN

    def look_at_deferred_now(self) -> None:
        """An admin made messages due (`relay retry`, the dashboard): look at deferred/ now."""
        self._next_deferred_scan = 0.0

    def run_once(self, now: float) -> float:
        """One pass: gather what is ready, claim as much as the workers can take.

        Returns how long the caller may sleep before the next pass is useful.
        """
        if now >= self._next_badmail_sweep:
            self._next_badmail_sweep = now + BADMAIL_SWEEP
            removed = expire_badmail(self.queue, self.relay.badmail_max_age, now)
            if removed:
                log.info("removed %d badmail message(s) older than badmail_max_age", removed)
        self._next_deferred_scan = min(self._next_deferred_scan, self.exit.take_next_due())
        if self.hosts.paused(now):
            return self.hosts.down_until - now
        self._gather_pickup(now)
        if now >= self._next_deferred_scan:
            self._gather_deferred(now)
        self._fill()
        wake_at = min(self._next_rescan, self._next_deferred_scan, now + RESCAN)
        if self.watcher.has_unsettled():
            wake_at = min(wake_at, self._last_recheck + UNSETTLED_RECHECK)
        return wake_at - now

    def recover_active(self) -> int:
        """At start: give back what a stopped relay left in active/ (nobody holds its lock)."""
        drop_pickup_twins(self.queue)
        self.queue.sweep_stale_temp_files(time.time())
        count = 0
        for name in self.queue.names(ACTIVE):
            claimed = claim_queued(self.queue, ACTIVE, name)
            if claimed is None:
                continue   # a live relay holds it
            if self.exit.give_back(claimed, "in flight when a relay stopped") != KEPT_IN_ACTIVE:
                count += 1
        return count

    # -- gathering names --------------------------------------------------------------------

    def _gather_pickup(self, now: float) -> None:
        if self.watcher.needs_rescan():  # a backlog larger than the names held: next batch
            self._next_rescan = min(self._next_rescan, self._last_rescan + 1.0)
        if now >= self._next_rescan:
            self._last_rescan = self._last_recheck = now
            self.watcher.rescan(now)
            self._next_rescan = now + RESCAN
        elif self.watcher.has_unsettled() and now - self._last_recheck >= UNSETTLED_RECHECK:
            self._last_recheck = now  # files waiting to stand still: a stat each, no scan
            self.watcher.recheck(now)
        # Topped up once half the window is claimed, not on every pass: each take of a few
        # names picked the oldest out of up to READY_CAP, a pass every few messages.
        rooms = [CANDIDATE_WINDOW - held if (held := len(self._candidates[(p, PICKUP)]))
                 <= CANDIDATE_WINDOW // 2 else 0 for p in PRIORITIES]
        for name in self.watcher.take_ready(*rooms):
            if self._ours(name):
                self._add_candidate(PICKUP, name)
            else:
                self._theirs[priority_of(name)].append(name)

    def _ours(self, name: str) -> bool:
        """Is this pickup name one this process claims first (always, when it works alone)?"""
        return self._claims_first is None or self._claims_first(name)

    def _gather_deferred(self, now: float) -> None:
        due, next_due = self.queue.due(DEFERRED, now)
        room = CANDIDATE_WINDOW - sum(len(self._candidates[(p, DEFERRED)]) for p in PRIORITIES)
        for name in due[: max(0, room)]:
            self._add_candidate(DEFERRED, name)
        if len(due) > room:  # more are due than we hold names for: look again soon
            next_due = now + 1.0
        self._next_deferred_scan = min(now + RESCAN, next_due)

    def _add_candidate(self, folder: str, name: str) -> None:
        key = (folder, name)
        if key not in self._known:
            self._known.add(key)
            self._candidates[(priority_of(name), folder)].append(name)

    # -- handing out ------------------------------------------------------------------------

    def _capacity(self, priority: str) -> int:
        """How many more names of this class to hand out now.

        While probing a host that was down: one at a time. Otherwise keep up to
        AHEAD_PER_CONNECTION names per connection waiting, so a worker never
        waits for the dispatcher. Transactional mail has its own allowance: a full
        window of bulk never keeps a password reset from being claimed at once, and
        workers take transactional mail first.
        """
        in_flight, waiting = self.work.load()
        if self.hosts.probing:
            return 1 - in_flight - sum(waiting.values())
        window = self.relay.connections * AHEAD_PER_CONNECTION
        if priority == TRANSACTIONAL:
            return window - waiting[TRANSACTIONAL]
        return window - sum(waiting.values())

    def _fill(self) -> None:
        """Hand out what the capacities allow now, in one batch (workers only make room meanwhile:
        the next pass hands out that)."""
        self._queued.refresh()
        room = {TRANSACTIONAL: self._capacity(TRANSACTIONAL), BULK: self._capacity(BULK)}
        probing = self.hosts.probing
        chosen = []
        while not self.work.stopping.is_set():
            candidate = self._next_candidate(room[TRANSACTIONAL] > 0, room[BULK] > 0)
            if candidate is None:
                break
            chosen.append(candidate)
            # bulk's allowance counts every waiting message; transactional's only its own
            room[BULK] -= 1
            if candidate.priority == TRANSACTIONAL or probing:
                room[TRANSACTIONAL] -= 1
        self.work.put(chosen)

    def _next_candidate(self, transactional: bool, bulk: bool) -> Candidate | None:
        """The next name to claim: transactional before bulk; within a class, new mail from
        pickup, except that due retries get one claim in RETRY_SHARE while pickup has more."""
        for priority, allowed in ((TRANSACTIONAL, transactional), (BULK, bulk)):
            if not allowed:
                continue
            fresh, due = self._candidates[(priority, PICKUP)], self._candidates[(priority, DEFERRED)]
            if not fresh:   # none of our own left: help with another process's
                fresh = self._theirs[priority]
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
            return Candidate(folder, name, priority)
        return None

    def claim(self, candidate: Candidate) -> Claimed | None:
        """Claim a name handed out (in a worker's thread); None when another relay took it
        first, or it went to badmail (a file the relay will not read) or stayed (an error)."""
        folder, name = candidate.folder, candidate.name
        try:
            if folder == PICKUP:
                return claim_from_pickup(self.queue, name, self._queued)
            claimed = claim_queued(self.queue, folder, name)
            if claimed is not None and self.metrics is not None:
                self.metrics.retried.inc()
            return claimed
        except Unclaimable as e:
            self.exit.refuse_unreadable(folder, name, str(e))
        except OSError as e:
            log.error("cannot claim %s/%s: %s (left where it is)", folder, name, e)
        return None
