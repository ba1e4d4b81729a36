"""The one way out of a claim: carry out a Fate, as Postfix's qmgr_active_done() does.

leave() makes the one queue move relay.delivery.fate decided (relay.queue.moves: gone,
deferred/ with the next attempt as the mtime, badmail/ with its reason file, or back to
deferred/ untried), counts it, and then writes what the fate owes others: a feedback
line per recipient refused for good ([relay] feedback_file, for the site) and the
sender's delivery report ([relay] delivery_reports, relay.delivery.dsn, placed in
pickup from <>). Both come after the move, so a move that fails repeats the attempt,
not the line or the report; a report or line that cannot be written is logged and
never keeps the message where it was. A full disk that stops the move gives the
message back untried (a fate of its own, decided by the same function), tried again
after NO_SPACE_RETRY; a move back that fails too leaves it claimed in active/, taken
again when a relay starts. give_back() is that same path for a message given back
before any attempt; refuse_unreadable() sends a file the relay will not read to
badmail without claiming it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from relay.delivery.dsn import build_report, failures, report_address, why_not
from relay.delivery.fate import GONE, Fate, RetryPolicy, Untried, decide
from relay.delivery.feedback import FeedbackFile, failed_recipients
from relay.delivery.figures import Figures
from relay.queue.badmail import badmail_unreadable, reason_text
from relay.queue.claims import Claimed
from relay.queue.files import NoSpace
from relay.queue.folders import BADMAIL, DEFERRED, Queue
from relay.queue.history import History
from relay.queue.moves import defer, delivered, put_back, to_badmail
from relay.smtp.replies import DeliveryResult
from settings import Config
from spooler.envelope import ParsedMessage, UnsafeHeaderError
from spooler.names import printable
from spooler.pickup import PickupError, PickupWriter

log = logging.getLogger("relay")

KEPT_IN_ACTIVE = "kept in active/ until a relay starts"   # where a message that cannot move stays
NO_SPACE_RETRY = 60.0   # a message whose outcome a full disk kept from being written: tried again after


class Exit:
    def __init__(self, config: Config, queue: Queue, policy: RetryPolicy, figures: Figures):
        self.config, self.queue, self.policy, self.figures = config, queue, policy, figures
        self.counts: Counter[str] = Counter()   # sent, deferred, badmail: said when the relay stops
        self.feedback = FeedbackFile(config.relay.feedback_file)
        self.report_from = report_address(config.relay.report_from)
        self.reports = PickupWriter(config.pickup.dir)
        self._next_due = float("inf")   # the earliest deferral made since the dispatcher asked
        self._due_lock = threading.Lock()

    def leave(self, claimed: Claimed, history: History, fate: Fate,
              message: ParsedMessage | None = None, result: DeliveryResult | None = None) -> Fate:
        """Carry out `fate`; the fate that was carried out (another one when the disk is full).

        `message` is None for a message that was never parsed, `result` None when no smart
        host answered."""
        if fate.attempt is not None:
            history.attempts.append(fate.attempt)
        sender = message.sender if message is not None else None
        failed = [] if message is None else failed_recipients(
            claimed.queue_id, message.content, fate, history, time.time())
        history.refused.extend(fate.refused)
        report = self._report(claimed, history, fate, message, result)
        try:
            self._move(claimed, history, fate, sender)
        except NoSpace as e:   # the cause is known: no traceback
            fate = decide(Untried(str(e), NO_SPACE_RETRY), history, time.time(), self.policy)
            log.error("%s: %s: %s (this attempt is not recorded)", claimed.queue_id, e,
                      self._put_back(claimed, fate))
            return fate
        try:
            self.feedback.append(failed)
        except OSError as e:
            log.error("%s: cannot write the feedback file %s (%s): the refusal is in the "
                      "message's history", claimed.queue_id, self.feedback.path, e.strerror or e)
        if report is not None:
            self._place_report(claimed, report, sender or "")
        return fate

    def take_next_due(self) -> float:
        """The earliest next attempt of the messages deferred or given back since the last call
        (inf: none): when the dispatcher should look at deferred/ again."""
        with self._due_lock:
            due, self._next_due = self._next_due, float("inf")
        return due

    def _due_at(self, when: float) -> None:
        with self._due_lock:
            self._next_due = min(self._next_due, when)

    def give_back(self, claimed: Claimed, why: str, retry_in: float = 0.0) -> str:
        """Give back a message before any attempt (the fate of an Untried event); says where it
        is now."""
        history = claimed.history or History(claimed.arrived, claimed.source)
        fate = decide(Untried(why, retry_in), history, time.time(), self.policy)
        return self._put_back(claimed, fate)

    def refuse_unreadable(self, folder: str, name: str, why: str) -> None:
        """Move a file the relay will not read (symlink, fifo, hard link, unreadable) to badmail,
        untouched and never claimed."""
        try:
            queue_id = badmail_unreadable(self.queue, folder, name, why)
        except NoSpace as full:
            log.error("%s/%s: %s (%s)", folder, printable(name), full, why)
            return
        self.counts["badmail"] += 1
        self.figures.unreadable()
        log.warning("%s: %s file %r moved to badmail: %s", queue_id, folder, name, why)

    # -- the moves ------------------------------------------------------------------------

    def _move(self, claimed: Claimed, history: History, fate: Fate, sender: str | None) -> None:
        if fate.destination == DEFERRED:
            history.recipients_left = list(fate.recipients_left)
            lost = defer(self.queue, claimed, history, fate.next_attempt)
            if lost:
                log.error("%s: %s", claimed.queue_id, lost)
            self._due_at(fate.next_attempt)
            self.counts["deferred"] += 1
        elif fate.destination == GONE:
            lost = delivered(self.queue, claimed)
            if lost:
                log.error("%s: %s", claimed.queue_id, lost)
            self.counts["sent"] += 1
        elif fate.destination == BADMAIL:
            history.recipients_left = list(fate.recipients_left) or None
            to_badmail(self.queue, claimed, reason_text(
                claimed.queue_id, fate.reason, history, sender, fate.recipients_left, time.time()), history)
            self.counts["badmail"] += 1
            log.warning("%s: moved to badmail: %s", claimed.queue_id, fate.reason)
        else:
            self._put_back(claimed, fate)
            return
        self.figures.moved(fate)

    def _put_back(self, claimed: Claimed, fate: Fate) -> str:
        """Back to deferred/, untried, due at fate.next_attempt; says where the message is."""
        if claimed.fd < 0:
            return "already moved"
        try:
            put_back(self.queue, claimed, fate.next_attempt)
        except OSError as e:  # a full or broken disk
            log.error("%s: cannot move it back to deferred/ (%s); it stays in active/ until a "
                      "relay starts", claimed.queue_id, e.strerror or e)
            claimed.release()   # taken again when a relay starts
            return KEPT_IN_ACTIVE
        self._due_at(fate.next_attempt)
        wait = fate.next_attempt - time.time()
        return "put back in deferred/" if wait < 1 else \
            f"put back in deferred/, tried again in {wait:.0f}s"

    # -- what a fate owes the sender --------------------------------------------------------

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


def _answering_host(result: DeliveryResult | None, default: str) -> str:
    """The smart host that gave the final answer (Remote-MTA of a report)."""
    if result is None or not result.relay:
        return default
    return result.relay.rsplit(":", 1)[0]
