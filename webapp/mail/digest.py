"""The daily digest run: one mail per member per UTC day listing what the fan-out held for them.

`flask --app webapp send-digests` (daily, contrib/pickup-relay-digest.timer) runs it. A
member's items are their outbox rows (webapp.mail.fanout) with status "digest" (notify_mode
"daily") or "cap" (an instant member over max_notifications_per_day) and no digest yet.
Recipients: activated, not bouncing, notifications not "off", with at least one item
whose post and question/article still exist, undeleted and not hidden; a member with
none gets no mail. Items whose post is gone are marked "post_gone" and never listed. A
member who turned notifications off gets nothing: their pending items are dropped
("opted_out"), as the fan-out drops what comes while they are off, so turning the digest
back on does not bring back old news. A bouncing member's items wait (the address may
be fixed); the mail lists at most digest_mail.LISTED of them.

Exactly once per member per day, whoever runs it how often and whatever is killed when,
by the fan-out's protocol (spooler.staged, webapp.mail.placement), members in id order, a
batch at a time:

  1. stage each member's digest as `d{user}-{YYYYMMDD}`, then sync() the batch once;
  2. one transaction for the batch: per member, lock their users row (FOR UPDATE; nothing
     on SQLite, whose writers take turns anyway), insert the Digest row (member, day,
     placer = our staging token) and set digest_id on exactly the rows listed; commit.
     When a member fails (done by another run), the batch is rolled back and done again
     with one such transaction per member, so only that member is left out;
  3. publish the committed members' files; discard the others.

The Digest row's unique (member, day) is what makes it once: a run that loses the race
(IntegrityError) discards its file. Killed before a member's commit, nothing of it shows
and the next run does it again; killed after, the file is whole and on disk, and
placement.recover(), which each run calls first, publishes it. Fails with the database's
error (exit 1; a run again finishes the rest) or spooler.pickup.PickupError.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from spooler.envelope import UnsafeHeaderError
from spooler.staged import StagedWriter
from webapp.accounts.models import User
from webapp.mail import digest_mail, placement
from webapp.mail.kinds import FOR_THE_DIGEST, SkipReason
from webapp.mail.models import Digest, OutboxDelivery, OutboxEvent
from webapp.site.config import site_config
from webapp.site.extensions import db
from webapp.site.links import links_context

log = logging.getLogger(__name__)

BATCH = 200                   # members per sync and publish round


@dataclass
class DigestRun:
    """What one run did: digests placed (and the items they list), members another run did
    first, items dropped (post gone, notifications off), dead writers' files recovered."""
    day: date
    placed: int = 0
    items: int = 0
    lost: int = 0
    dropped: int = 0
    recovered: tuple[int, int] = (0, 0)


@dataclass
class _Plan:
    """One member's part of a batch: the staged key (None: nothing left to list) and rows."""
    user_id: int
    key: str | None
    listed: list[int] = field(default_factory=list)   # event ids
    gone: list[int] = field(default_factory=list)


def today() -> date:
    return datetime.now(UTC).date()


def send_digests(day: date | None = None, *, batch: int = BATCH,
                 listed: int = digest_mail.LISTED) -> DigestRun:
    """Place every due digest of `day` (default: today, UTC). Use inside an app context."""
    run = DigestRun(day or today())
    pickup = site_config().pickup.dir
    with links_context():
        run.recovered = placement.recover(pickup)
        run.dropped += _drop_opted_out()
        writer = StagedWriter(pickup)
        try:
            log.info("digests for %s: starting", run.day)
            after = 0
            while members := _next_members(run.day, after, batch):
                _place_batch(writer, run, members, listed)
                after = members[-1].id
        finally:
            writer.close()
    log.info("digests for %s: %d placed (%d items), %d done by another run, %d items dropped",
             run.day, run.placed, run.items, run.lost, run.dropped)
    return run


def _drop_opted_out() -> int:
    dropped = db.session.execute(
        update(OutboxDelivery).where(
            OutboxDelivery.status.in_(FOR_THE_DIGEST), OutboxDelivery.digest_id.is_(None),
            OutboxDelivery.user_id.in_(db.select(User.id).where(User.notify_mode == "off")))
        .values(status=SkipReason.OPTED_OUT)).rowcount
    db.session.commit()
    return dropped


def _next_members(day: date, after: int, batch: int) -> list[digest_mail.Recipient]:
    pending = db.select(OutboxDelivery.user_id).where(OutboxDelivery.status.in_(FOR_THE_DIGEST),
                                                      OutboxDelivery.digest_id.is_(None))
    done = db.select(Digest.id).where(Digest.user_id == User.id, Digest.day == day).exists()
    rows = db.session.execute(
        db.select(User.id, User.email, User.display_name)
        .where(User.id > after, User.id.in_(pending), User.reachable(),
               User.notify_mode != "off", ~done)
        .order_by(User.id).limit(batch)).all()
    db.session.commit()
    return [digest_mail.Recipient(*row) for row in rows]


def _place_batch(writer: StagedWriter, run: DigestRun, members, listed: int) -> None:
    pending = defaultdict(list)
    for user_id, event in db.session.execute(
            db.select(OutboxDelivery.user_id, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
            .where(OutboxDelivery.user_id.in_([m.id for m in members]),
                   OutboxDelivery.status.in_(FOR_THE_DIGEST), OutboxDelivery.digest_id.is_(None))
            .order_by(OutboxDelivery.user_id, OutboxDelivery.event_id)).all():
        pending[user_id].append(event)
    items: dict[int, digest_mail.Item | None] = {}   # one rendering per event for the batch
    plans = []
    for member in members:
        plan = _Plan(member.id, None)
        shown = []
        for event in pending[member.id]:
            if event.id not in items:
                items[event.id] = digest_mail.item(event)
            if items[event.id] is None:
                plan.gone.append(event.id)
            else:
                plan.listed.append(event.id)
                shown.append(items[event.id])
        if shown:
            try:
                data = digest_mail.message(member, run.day, shown, listed=listed)
            except UnsafeHeaderError as e:   # one bad address must not stop everyone after it
                log.warning("member %s: no digest: %s", member.id, e)
                continue
            plan.key = placement.digest_key(member.id, run.day)
            writer.stage(plan.key, data)
        plans.append(plan)
    db.session.commit()   # end the reading transaction before the writing ones
    writer.sync()
    # One transaction for the batch (one commit, one fsync); if any member in it was done by
    # another run meanwhile, the batch is rolled back and committed member by member.
    committed = plans if _commit(writer, run.day, plans) else \
        [plan for plan in plans if _commit(writer, run.day, [plan], lost=run)]
    for plan in committed:
        run.dropped += len(plan.gone)
        if plan.key:
            run.placed += 1
            run.items += len(plan.listed)
    placed = [plan.key for plan in committed if plan.key]
    writer.discard(set(plan.key for plan in plans if plan.key) - set(placed))
    writer.publish(placed)
    log.info("digests for %s: %d placed through member %d", run.day, len(placed), members[-1].id)


class _Changed(Exception):
    """A run for another day listed some of the member's items after we read them."""


def _commit(writer: StagedWriter, day: date, plans: list[_Plan], *, lost: DigestRun | None = None) -> bool:
    """The members' Digest rows and their items' digest_id (or "post_gone"), in one transaction.
    False, with nothing committed, when one of them fails (counted in `lost` when given)."""
    try:
        for plan in plans:
            _write(writer, day, plan)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if lost is not None:
            lost.lost += 1
            log.info("member %s: the digest of %s was placed by another run", plans[0].user_id, day)
        return False
    except _Changed:
        db.session.rollback()
        if lost is not None:
            log.warning("member %s: items changed under the digest of %s; left for the next run",
                        plans[0].user_id, day)
        return False
    return True


def _write(writer: StagedWriter, day: date, plan: _Plan) -> None:
    taken = OutboxDelivery.user_id == plan.user_id, OutboxDelivery.status.in_(FOR_THE_DIGEST), \
        OutboxDelivery.digest_id.is_(None)
    # Crash safety: recover() takes this lock before it reads the Digest rows, so a commit
    # sent by a writer that then died has happened or never will when it decides.
    db.session.execute(db.select(User.id).where(User.id == plan.user_id).with_for_update())
    if plan.key:
        digest = Digest(user_id=plan.user_id, day=day, placer=writer.token, items=len(plan.listed))
        db.session.add(digest)
        db.session.flush()
        marked = db.session.execute(
            update(OutboxDelivery).where(*taken, OutboxDelivery.event_id.in_(plan.listed))
            .values(digest_id=digest.id)).rowcount
        if marked != len(plan.listed):
            raise _Changed
    if plan.gone:
        db.session.execute(update(OutboxDelivery).where(
            *taken, OutboxDelivery.event_id.in_(plan.gone)).values(status=SkipReason.POST_GONE))
