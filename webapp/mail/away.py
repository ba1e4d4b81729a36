"""Mail only when away: the notification mails that waited [webapp] mail_when_away, sent now
unless the member read the notification on the site meanwhile.

The fan-out (webapp.mail.fanout) records a member on notify_mode "away" as "waiting"
(kinds.SkipReason.WAITING) beside their on-site notification. Reading it on the site
(webapp.notices.inbox) turns the row into "read_site" at once. send_due(), run by every
fan-out worker between events, takes the waiting rows older than mail_when_away and
decides each again as the fan-out would (address, setting and daily cap as they are now):

  1. stage the "sent" ones' files (keys as the fan-out's: n{event}-{member}) and sync;
  2. in one transaction, move each row from "waiting" to its status (placer = our token),
     a compare-and-set: a row another worker or the member's reading took first is not ours;
  3. publish the files of the rows we moved, discard the others.

Killed before 2, the rows still wait and the staged files are discarded by recovery; after
2, placement.recover() publishes them (the rows say "sent" with our token). So one mail at
most per row, and none for a notification read in time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError

from spooler.staged import StagedWriter
from webapp.accounts.models import User
from webapp.mail import placement, recipients
from webapp.mail.kinds import SENT, SkipReason
from webapp.mail.models import OutboxDelivery, OutboxEvent
from webapp.site.extensions import db

log = logging.getLogger(__name__)


def send_due(writer: StagedWriter, mail_for, *, wait: float, cap: int, now: datetime,
             batch: int = 500) -> int:
    """Settle the waiting rows due by `now`; returns how many mails were published.
    `mail_for(event)`: the event's StampedMail, or None when its post is gone."""
    due = db.session.execute(
        db.select(OutboxDelivery.event_id, OutboxDelivery.user_id)
        .where(OutboxDelivery.status == SkipReason.WAITING,
               OutboxDelivery.created_at <= now - timedelta(seconds=wait))
        .order_by(OutboxDelivery.created_at).limit(batch)).all()
    if not due:
        db.session.commit()
        return 0
    by_event = defaultdict(list)
    for event_id, user_id in due:
        by_event[event_id].append(user_id)
    decided, keys = [], {}
    for event_id, user_ids in by_event.items():
        event = db.session.get(OutboxEvent, event_id)
        mail = mail_for(event)
        members = db.session.execute(db.select(*recipients.RECIPIENT_COLUMNS)
                                     .where(User.id.in_(user_ids)).order_by(User.id)).all()
        for member, status in recipients.statuses(event, mail is None, members, cap):
            decided.append((event_id, member.id, status))
            if status == SENT:
                keys[(event_id, member.id)] = placement.notification_key(event_id, member.id)
                writer.stage(keys[(event_id, member.id)], mail.for_member(event_id, member))
    db.session.commit()
    writer.sync()
    taken = _settle(writer, decided, now)
    placed = [keys[pair] for pair in taken if pair in keys]
    writer.discard(set(keys.values()) - set(placed))
    writer.publish(placed)
    if placed:
        log.info("mail when away: %d mailed, %d settled otherwise", len(placed), len(taken) - len(placed))
    return len(placed)


def _settle(writer: StagedWriter, decided, now: datetime) -> set[tuple[int, int]]:
    """Step 2: the rows moved from "waiting", in one transaction; the (event, member) pairs ours."""
    taken = set()
    try:
        for event_id, user_id, status in decided:
            moved = db.session.execute(update(OutboxDelivery).where(
                OutboxDelivery.event_id == event_id, OutboxDelivery.user_id == user_id,
                OutboxDelivery.status == SkipReason.WAITING).values(
                status=status, placer=writer.token if status == SENT else "", created_at=now))
            if moved.rowcount == 1:
                taken.add((event_id, user_id))
        db.session.commit()
    except (IntegrityError, OperationalError) as e:
        # A failed COMMIT may still have happened: the rows say which mails are ours to publish.
        # If the database cannot say, this raises and the staged files stay for recovery.
        db.session.rollback()
        log.warning("mail when away: batch not committed (%s); asking what was", e.orig)
        pairs = [(event_id, user_id) for event_id, user_id, status in decided if status == SENT]
        taken = {(d.event_id, d.user_id) for d in db.session.execute(
            db.select(OutboxDelivery.event_id, OutboxDelivery.user_id).where(
                OutboxDelivery.placer == writer.token, OutboxDelivery.status == SENT,
                OutboxDelivery.user_id.in_({u for _e, u in pairs}))).all()} & set(pairs)
        db.session.commit()
    return taken
