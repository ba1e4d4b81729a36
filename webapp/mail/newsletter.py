"""Newsletters: start, pause, resume, cancel, and how far one has got.

start() stores the Broadcast and its outbox event (kind "newsletter") in the caller's
transaction, so the admin's page returns at once and the fan-out workers write the
files, exactly once per member, surviving a restart of everything. The audience is
every activated, not disabled member with the newsletter on and an address that is not bouncing,
decided per member when the worker reaches them (a member who turns the newsletter
off meanwhile gets nothing). Pausing takes the event's lease away and holds it
(not_before = PAUSED): the batch a worker has in hand is discarded uncommitted, and
what is already in pickup still goes. Cancelling marks the event done the same way.
A newsletter the fan-out has finished stays done: pause and cancel then change nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func

from webapp.accounts.models import User
from webapp.mail.models import Broadcast, OutboxEvent
from webapp.posts.markdown import render
from webapp.site.database import utcnow
from webapp.site.extensions import db

PAUSED = datetime(9999, 1, 1)
NEWSLETTER = "newsletter"


def audience_size() -> int:
    return db.session.execute(db.select(func.count()).select_from(User).where(
        User.reachable(), User.newsletter)).scalar_one()


def start(admin: User, subject: str, body: str) -> Broadcast:
    broadcast = Broadcast(author_id=admin.id, subject=subject, body_source=body,
                          body_html=render(body), audience=audience_size())
    db.session.add(broadcast)
    db.session.flush()
    event = OutboxEvent(kind=NEWSLETTER, thread_kind="broadcast", thread_id=broadcast.id,
                        post_id=broadcast.id, actor_id=admin.id, created_at=utcnow(),
                        not_before=utcnow())
    db.session.add(event)
    db.session.flush()
    broadcast.event_id = event.id
    return broadcast


# The states each action applies to (as progress() names them: a finished one is "done").
ACTIONS = {"pause": ("sending",), "resume": ("paused",), "cancel": ("sending", "paused")}


def pause(broadcast: Broadcast) -> bool:
    """Hold the fan-out; False (nothing changed) unless it is still writing."""
    if broadcast.state != "sending" or not _event_update(
            broadcast, not_before=PAUSED, lease_token=None, lease_until=None):
        return False
    broadcast.state = "paused"
    return True


def resume(broadcast: Broadcast) -> bool:
    if broadcast.state != "paused" or not _event_update(broadcast, not_before=utcnow()):
        return False
    broadcast.state = "sending"
    return True


def cancel(broadcast: Broadcast) -> bool:
    """Write nothing more; False (nothing changed) when it is over already."""
    if broadcast.state not in ("sending", "paused") or not _event_update(
            broadcast, done_at=utcnow(), lease_token=None, lease_until=None):
        return False
    broadcast.state = "cancelled"
    return True


def _event_update(broadcast: Broadcast, **values) -> bool:
    """Change the broadcast's event unless the fan-out finished it; whether it did. The state
    follows only then: a newsletter the worker has just finished stays done, not "paused"."""
    result = db.session.execute(db.update(OutboxEvent).where(
        OutboxEvent.id == broadcast.event_id, OutboxEvent.done_at.is_(None)).values(**values))
    return result.rowcount > 0


def progress(broadcast: Broadcast) -> dict:
    """Written, left out, the audience, the rate since it started and the time left."""
    event = db.session.get(OutboxEvent, broadcast.event_id) if broadcast.event_id else None
    written = event.sent if event else 0
    skipped = event.skipped if event else 0
    finished = event is not None and event.done_at is not None
    state = "done" if finished and broadcast.state == "sending" else broadcast.state
    end = event.done_at if finished else utcnow()
    elapsed = max((end - broadcast.created_at).total_seconds(), 0.001)
    rate = written / elapsed
    total = broadcast.audience
    left = max(total - written, 0)
    return {
        "id": broadcast.id, "state": state, "written": written, "left_out": skipped,
        "audience": total, "rate_per_s": round(rate, 1),
        "seconds_left": None if state != "sending" or rate == 0 else round(left / rate, 1),
        "elapsed_s": round(elapsed, 1),
    }

