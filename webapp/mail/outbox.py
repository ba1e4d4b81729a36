"""The outbox: events written in the transaction of what causes them, and what they did.

record() makes every event, the newsletter's included. A request that posts an answer,
accepts one or comments adds one OutboxEvent row and nothing else: no follower is read
and no file is written, so posting costs the same for a post with one follower and for
one with 10,000. The fan-out worker (webapp.mail.fanout) does the rest. Account mail
(activation, reset, address change) is not here: it is one message, written to pickup by
webapp.accounts.account_mail in the request. figures() and outcomes_for() are what
`outbox-status`, /metrics, `outbox-log` and the settings page show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func

from webapp.mail.kinds import EventKind, SkipReason, status_words
from webapp.mail.models import OutboxDelivery, OutboxEvent
from webapp.posts.models import Article, Question
from webapp.site.config import site_config
from webapp.site.database import utcnow
from webapp.site.extensions import db

LATE = 300   # seconds past due after which the outbox counts as late (no worker at work)


def record(kind: EventKind, thread_kind: str, thread_id: int, post_id: int,
           actor_id: int) -> OutboxEvent:
    """The one way an event is made: added to the current transaction (the caller's commit
    makes it real) and returned. A notification waits [webapp] notification_delay, so an
    author's quick delete or edit still counts; a newsletter, previewed by its admin, is due now."""
    now = utcnow()
    hold = 0.0 if kind == EventKind.NEWSLETTER else site_config().webapp.notification_delay
    event = OutboxEvent(kind=kind, thread_kind=thread_kind, thread_id=thread_id, post_id=post_id,
                        actor_id=actor_id, created_at=now, not_before=now + timedelta(seconds=hold))
    db.session.add(event)
    return event


def figures() -> dict:
    """What `outbox-status` and /metrics show: events waiting (due or held), in progress
    (leased), done in the last hour, and the age in seconds of the oldest due one; mails
    waiting [webapp] mail_when_away, and the age of the oldest."""
    now = utcnow()
    open_events = db.select(OutboxEvent).where(OutboxEvent.done_at.is_(None)).subquery()
    row = db.session.execute(db.select(
        func.count().filter(open_events.c.lease_until.is_(None) | (open_events.c.lease_until < now)),
        func.count().filter(open_events.c.lease_until >= now),
        func.count().filter(open_events.c.not_before > now),
        func.min(open_events.c.not_before).filter(open_events.c.not_before <= now),
    )).one()
    done = db.session.execute(db.select(func.count(), func.coalesce(func.sum(OutboxEvent.sent), 0))
                              .where(OutboxEvent.done_at >= now - timedelta(hours=1))).one()
    # Mails to members "away", waiting to see if they read it on the site (by the status index).
    away = db.session.execute(db.select(func.count(), func.min(OutboxDelivery.created_at))
                              .where(OutboxDelivery.status == SkipReason.WAITING)).one()
    oldest = row[3]
    return {
        "waiting": row[0],
        "in_progress": row[1],
        "held": row[2],
        "done_last_hour": done[0],
        "sent_last_hour": int(done[1]),
        "oldest_waiting_s": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "mail_waiting": away[0],
        "oldest_mail_waiting_s": round((now - away[1]).total_seconds(), 1) if away[1] else 0.0,
    }


def late(figures: dict) -> bool:
    """Whether no worker seems to be at work: an event due for over LATE seconds, or a mail to
    a member away past its [webapp] mail_when_away by as much (what outbox-status exits 1 on)."""
    wait = site_config().webapp.mail_when_away
    return figures["oldest_waiting_s"] > LATE or figures["oldest_mail_waiting_s"] > wait + LATE


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one event did for one member (its outbox_deliveries row, with the event's thread);
    `title` is None when the thread is gone or hidden."""
    at: datetime
    event_id: int
    kind: str
    thread_kind: str
    thread_id: int
    title: str | None
    status: str

    @property
    def words(self) -> str:
        return status_words(self.status)

    @property
    def what(self) -> str:
        return EventKind(self.kind).words


def outcomes_for(user_id: int, limit: int) -> list[DeliveryOutcome]:
    """The member's latest outcomes, newest first: what `outbox-log` and the settings page show."""
    rows = db.session.execute(
        db.select(OutboxDelivery, OutboxEvent).join(OutboxEvent)
        .where(OutboxDelivery.user_id == user_id)
        .order_by(OutboxDelivery.created_at.desc(), OutboxDelivery.event_id.desc())
        .limit(limit)).all()
    titles = {}
    for thread_kind, model in (("question", Question), ("article", Article)):
        ids = {e.thread_id for _d, e in rows if e.thread_kind == thread_kind}
        if ids:
            for thread in db.session.execute(db.select(model).where(model.id.in_(ids))).scalars():
                if not (thread.is_deleted or thread.is_hidden):
                    titles[(thread_kind, thread.id)] = thread.title
    return [DeliveryOutcome(d.created_at, e.id, e.kind, e.thread_kind, e.thread_id,
                    titles.get((e.thread_kind, e.thread_id)), d.status) for d, e in rows]
