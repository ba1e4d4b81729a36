"""The fan-out worker: each outbox event becomes one pickup file per recipient, exactly once.

Events are notifications (a new answer to the question's followers, an accepted answer to
its author, a new comment to the article's followers) and newsletters (every member;
webapp.mail.newsletter).

`flask --app webapp outbox-worker` runs it; any number may run, on one host or on
several against one PostgreSQL. A worker claims a due event with a lease (a token, its
owner, an expiry), chosen with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL and taken
by a compare-and-set on the token on both databases, so two workers never hold one
event. It walks the recipients in user id order, a batch at a time:

  1. decide each recipient: sent, or the reason they are left out (webapp.mail.recipients:
     the post is gone, they wrote it, not activated, disabled by an admin, address
     bouncing, notifications off, daily digest, waiting to see if they read it on the
     site (mailed later by webapp.mail.away), over max_notifications_per_day);
  2. stage the "sent" ones' files (spooler.staged: names the relay ignores) and flush
     them to disk once;
  3. commit, in one transaction, a row per recipient (the delivery key (event, member)
     is its primary key), their on-site notifications (webapp.notices.inbox) and the
     event's progress, only while the lease is still ours;
  4. publish the staged files (rename into pickup).

A worker killed before 3 leaves only staged files, discarded by whoever recovers; killed
after 3, its staged files are whole and committed, and the next worker on the host
publishes them (webapp.mail.placement). An expired lease is taken over by another worker,
which goes on from the committed progress; the old holder's commit then fails and it
discards its batch. So each member gets one file per event, whatever is killed when.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Row, insert, update
from sqlalchemy.exc import IntegrityError, OperationalError

from spooler.staged import StagedWriter, is_alive
from webapp.mail import away, bounces, newsletter_mail, notification_mail, placement, recipients
from webapp.mail.kinds import SENT, EventKind
from webapp.mail.models import Newsletter, OutboxDelivery, OutboxEvent
from webapp.notices import inbox
from webapp.site.config import site_config
from webapp.site.database import utcnow
from webapp.site.extensions import db
from webapp.site.links import links_context

log = logging.getLogger(__name__)

BATCH = 500             # recipients per commit
LEASE = 30.0            # seconds a claim lasts without progress before another worker may take it
CANDIDATES = 20         # due events looked at per claim
FEEDBACK_EVERY = 5.0    # seconds between reads of the relay's feedback file (webapp.mail.bounces)
AWAY_EVERY = 1.0        # seconds between looks for mails that waited mail_when_away (webapp.mail.away)


@dataclass(frozen=True)
class Claim:
    event_id: int
    token: str


class FanoutWorker:
    """One worker process's loop. Use inside an app context."""

    def __init__(self, *, batch: int = BATCH, lease: float = LEASE, poll: float = 0.25):
        self.batch = batch
        self.lease = lease
        self.poll = poll
        config = site_config()
        self.pickup = config.pickup.dir
        self.cap = config.webapp.max_notifications_per_day
        self.feedback_file = config.relay.feedback_file
        self.bounce_soft_limit = config.webapp.bounce_soft_limit
        self.mail_when_away = config.webapp.mail_when_away
        self.feedback_skipped = 0   # lines of the feedback file that were not feedback lines
        self.writer = StagedWriter(self.pickup)
        self.host = socket.gethostname()
        self.owner = f"{self.host} {os.getpid()} {self.writer.token}"
        self._postgres = db.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.writer.close()

    def run(self, should_stop: Callable[[], bool], *, once: bool = False,
            recover_every: float = 30.0) -> int:
        """Fan out due events until should_stop() (or, with once, until none is due);
        returns how many events this worker finished."""
        with links_context():
            return self._run(should_stop, once, recover_every)

    def _run(self, should_stop: Callable[[], bool], once: bool, recover_every: float) -> int:
        finished = 0
        last_recovery = last_feedback = last_away = float("-inf")
        while not should_stop():
            if time.monotonic() - last_recovery >= recover_every:
                placement.recover(self.pickup)
                last_recovery = time.monotonic()
            if self.feedback_file and time.monotonic() - last_feedback >= FEEDBACK_EVERY:
                self.read_feedback()
                last_feedback = time.monotonic()
            claim = self.claim()
            if claim is None and (once or time.monotonic() - last_away >= AWAY_EVERY):
                self.send_away()
                last_away = time.monotonic()
            if claim is None:
                if once:
                    break
                time.sleep(self.poll)
                continue
            if self.fan_out(claim, should_stop):
                finished += 1
        return finished

    def read_feedback(self) -> None:
        """Mark the members the relay's new feedback lines are about. Nothing there stops the
        worker: a bad line is skipped and counted (webapp.mail.bounces), and a failure of the
        database leaves the lines for the next read, FEEDBACK_EVERY seconds on."""
        try:
            taken = bounces.read_feedback(self.feedback_file, self.bounce_soft_limit)
        except Exception as e:
            db.session.rollback()
            log.error("cannot read the relay's feedback file %s now (%s): tried again in %gs; "
                      "notifications go on", self.feedback_file, e, FEEDBACK_EVERY)
            return
        if taken.skipped:
            self.feedback_skipped += taken.skipped
            log.warning("%d line(s) of the relay's feedback file skipped so far by this worker "
                        "(each said above, with where it is)", self.feedback_skipped)

    def send_away(self, now=None) -> int:
        """Mail what waited mail_when_away and is still unread (webapp.mail.away); a failing
        database is logged and tried again on the next round."""
        try:
            with links_context():
                return away.send_due(self.writer, _mail_for, wait=self.mail_when_away, cap=self.cap,
                                     now=now or utcnow(), batch=self.batch)
        except OperationalError as e:
            db.session.rollback()
            log.warning("mail when away: not now (%s); tried again in %gs", e.orig, AWAY_EVERY)
            return 0

    def claim(self) -> Claim | None:
        """Lease the oldest due event that is free, expired, or held by a dead worker here."""
        now = utcnow()
        query = (db.select(OutboxEvent.id, OutboxEvent.lease_token, OutboxEvent.lease_owner,
                           OutboxEvent.lease_until)
                 .where(OutboxEvent.done_at.is_(None), OutboxEvent.not_before <= now,
                        OutboxEvent.lease_until.is_(None) | (OutboxEvent.lease_until < now)
                        | OutboxEvent.lease_owner.startswith(f"{self.host} "))
                 .order_by(OutboxEvent.id).limit(CANDIDATES))
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        try:
            for event_id, token, owner, until in db.session.execute(query).all():
                # Our own lease is one we gave up (a batch that failed to commit): claim() runs
                # only between fan-outs, so waiting for it to expire would only stall the event.
                if token is not None and until >= now and owner != self.owner \
                        and self._holder_lives(owner):
                    continue
                mine = secrets.token_hex(8)
                held = OutboxEvent.lease_token.is_(None) if token is None else \
                    OutboxEvent.lease_token == token
                # done_at too: on SQLite the SELECT locks nothing, and a free event may be
                # claimed and finished (token back to NULL) by another worker before this UPDATE.
                taken = db.session.execute(
                    update(OutboxEvent).where(OutboxEvent.id == event_id, held,
                                              OutboxEvent.done_at.is_(None))
                    .values(lease_token=mine, lease_owner=self.owner,
                            lease_until=now + timedelta(seconds=self.lease)))
                if taken.rowcount == 1:
                    db.session.commit()
                    if token is not None:
                        log.info("event %s: took over the lease of %s", event_id, owner)
                    return Claim(event_id, mine)
            db.session.commit()
        except OperationalError as e:  # database busy or gone: try again on the next round
            db.session.rollback()
            log.warning("claiming an event failed: %s", e.orig)
        return None

    def _holder_lives(self, owner: str) -> bool:
        host, _pid, token = (owner.split(" ") + ["", "", ""])[:3]
        if host != self.host:
            return True   # another host's worker: only its lease's expiry says it is gone
        return is_alive(self.pickup, token)

    def fan_out(self, claim: Claim, should_stop: Callable[[], bool]) -> bool:
        """Work through the claimed event; True when it is done, False when the lease was lost
        or the worker was asked to stop (the committed progress stays)."""
        event = db.session.get(OutboxEvent, claim.event_id)
        mail = _mail_for(event)
        done_through = event.done_through
        db.session.commit()
        while True:
            recipients = self._next_recipients(event, done_through)
            if not recipients:
                return self._finish(claim)
            decisions = self._decide(event, mail, recipients)
            keys = []
            for member, status in decisions:
                if status == SENT:
                    key = placement.notification_key(claim.event_id, member.id)
                    self.writer.stage(key, mail.for_member(claim.event_id, member))
                    keys.append(key)
            self.writer.sync()
            if not self._commit(claim, event, recipients[-1].id, decisions):
                self.writer.discard()
                return False
            self.writer.publish(keys)
            done_through = recipients[-1].id
            if should_stop():
                self._release(claim)
                return False

    def _next_recipients(self, event: OutboxEvent, done_through: int) -> list[Row]:
        return recipients.next_batch(event, done_through, self.batch)

    def _decide(self, event: OutboxEvent, mail, batch: list[Row]) -> list[tuple[Row, str]]:
        # Read again for every batch: a post deleted or hidden meanwhile mails nobody more.
        gone = mail is None or (event.kind != EventKind.NEWSLETTER and notification_mail.is_gone(
            *notification_mail.load_posts(event)))
        return recipients.statuses(event, gone, batch, self.cap, away_waits=self.mail_when_away > 0)

    def _commit(self, claim: Claim, event: OutboxEvent, done_through: int, decisions) -> bool:
        """The batch's rows and the event's progress, in one transaction, if the lease is ours."""
        now = utcnow()
        sent = sum(1 for _m, status in decisions if status == SENT)
        try:
            progressed = db.session.execute(
                update(OutboxEvent).where(OutboxEvent.id == claim.event_id,
                                          OutboxEvent.lease_token == claim.token)
                .values(done_through=done_through, lease_until=now + timedelta(seconds=self.lease),
                        sent=OutboxEvent.sent + sent,
                        skipped=OutboxEvent.skipped + len(decisions) - sent))
            if progressed.rowcount != 1:
                db.session.rollback()
                log.warning("event %s: lease lost to another worker; its batch is dropped here",
                            claim.event_id)
                return False
            # The table, not the mapped class: a Core executemany skips the ORM's bulk bookkeeping.
            db.session.execute(insert(OutboxDelivery.__table__), [
                {"event_id": claim.event_id, "user_id": member.id, "status": status,
                 "placer": self.writer.token if status == SENT else "", "created_at": now}
                for member, status in decisions])
            # The on-site notifications ride in the same transaction: exactly once with the rows.
            if event.kind != EventKind.NEWSLETTER:
                inbox.add(event, decisions, now)
        except (IntegrityError, OperationalError) as e:
            db.session.rollback()
            log.warning("event %s: batch not committed (%s); it will be done again",
                        claim.event_id, e.orig)
            return False
        try:
            db.session.commit()
        except (IntegrityError, OperationalError) as e:
            # A failed COMMIT may still have happened (the connection dropped after the server
            # committed): discarding then would lose mail the rows call sent. Ask the database.
            db.session.rollback()
            if not self._batch_committed(claim, decisions):
                log.warning("event %s: batch not committed (%s); it will be done again",
                            claim.event_id, e.orig)
                return False
            log.warning("event %s: the batch's COMMIT failed (%s) but went through", claim.event_id,
                        e.orig)
        return True

    def _batch_committed(self, claim: Claim, decisions) -> bool:
        """Whether this batch's rows are in the database (a transaction: all of them or none).
        Raises if the database cannot say: the staged files then stay for recovery."""
        sent = [member.id for member, status in decisions if status == SENT]
        if not sent:
            return False   # nothing staged: whether it happened, it is done again or skipped
        placer = db.session.execute(db.select(OutboxDelivery.placer).where(
            OutboxDelivery.event_id == claim.event_id, OutboxDelivery.user_id == sent[0])).scalar()
        db.session.commit()
        return placer == self.writer.token

    def _finish(self, claim: Claim) -> bool:
        done = db.session.execute(
            update(OutboxEvent).where(OutboxEvent.id == claim.event_id,
                                      OutboxEvent.lease_token == claim.token)
            .values(done_at=utcnow(), lease_token=None, lease_until=None))
        db.session.commit()
        return done.rowcount == 1

    def _release(self, claim: Claim) -> None:
        db.session.execute(update(OutboxEvent).where(OutboxEvent.id == claim.event_id,
                                                     OutboxEvent.lease_token == claim.token)
                           .values(lease_token=None, lease_until=None))
        db.session.commit()


def _mail_for(event: OutboxEvent):
    if event.kind == EventKind.NEWSLETTER:
        newsletter = db.session.get(Newsletter, event.thread_id)
        return newsletter_mail.prepare(newsletter) if newsletter is not None else None
    return notification_mail.prepare(event)
