"""The outbox: notification events written in the transaction of the post that causes them.

A request that posts an answer, accepts one or comments adds one OutboxEvent row and
nothing else: no follower is read and no file is written, so posting costs the same
for a post with one follower and for one with 10,000. The fan-out worker
(webapp.mail.fanout) does the rest. Account mail (activation, reset, address change) is
not here: it is one message, written to pickup by webapp.accounts.account_mail in the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func

from webapp.mail.models import OutboxDelivery, OutboxEvent
from webapp.posts.models import Article, Question
from webapp.site.config import site_config
from webapp.site.database import utcnow
from webapp.site.extensions import db

ANSWER, ACCEPTED, COMMENT = "answer", "accepted", "comment"
KIND_WORDS = {ANSWER: "New answer", ACCEPTED: "Your answer was accepted", COMMENT: "New comment"}
# A delivery's status in words a member reads (webapp.mail.fanout decides the status).
OUTCOME_WORDS = {
    "sent": "sent",
    "author": "you wrote it",
    "opted_out": "notifications off",
    "digest": "in your daily digest",
    "bouncing": "address bouncing",
    "post_gone": "post deleted",
    "cap": "daily limit reached",
    "inactive": "account not activated",
}


def record(kind: str, thread_kind: str, thread_id: int, post_id: int, actor_id: int) -> None:
    """Add the event to the current transaction; the caller's commit makes it real."""
    now = utcnow()
    delay = timedelta(seconds=site_config().webapp.notification_delay)
    db.session.add(OutboxEvent(kind=kind, thread_kind=thread_kind, thread_id=thread_id,
                               post_id=post_id, actor_id=actor_id, created_at=now,
                               not_before=now + delay))


def figures() -> dict:
    """What `outbox-status` and /metrics show: events waiting (due or held), in progress
    (leased), done in the last hour, and the age in seconds of the oldest due one."""
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
    oldest = row[3]
    return {
        "waiting": row[0],
        "in_progress": row[1],
        "held": row[2],
        "done_last_hour": done[0],
        "sent_last_hour": int(done[1]),
        "oldest_waiting_s": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
    }


@dataclass(frozen=True)
class Outcome:
    """What one event did for one member; `title` is None when the thread is gone or hidden."""
    at: datetime
    event_id: int
    kind: str
    thread_kind: str
    thread_id: int
    title: str | None
    status: str

    @property
    def words(self) -> str:
        return OUTCOME_WORDS.get(self.status, self.status)

    @property
    def what(self) -> str:
        return KIND_WORDS.get(self.kind, self.kind)


def outcomes_for(user_id: int, limit: int) -> list[Outcome]:
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
    return [Outcome(d.created_at, e.id, e.kind, e.thread_kind, e.thread_id,
                    titles.get((e.thread_kind, e.thread_id)), d.status) for d, e in rows]
