"""The outbox: notification events written in the transaction of the post that causes them.

A request that posts an answer, accepts one or comments adds one OutboxEvent row and
nothing else: no follower is read and no file is written, so posting costs the same
for a post with one follower and for one with 10,000. The fan-out worker
(webapp.fanout) does the rest. Account mail (activation, reset, address change) is
not here: it is one message, written to pickup by webapp.notify in the request.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func

from webapp.extensions import db
from webapp.models import OutboxEvent, utcnow

ANSWER, ACCEPTED, COMMENT = "answer", "accepted", "comment"


def record(kind: str, thread_kind: str, thread_id: int, post_id: int, actor_id: int) -> None:
    """Add the event to the current transaction; the caller's commit makes it real."""
    now = utcnow()
    delay = timedelta(seconds=current_app.config["NOTIFICATION_DELAY"])
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
