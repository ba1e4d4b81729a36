"""Newsletters: the rule for their text, start, pause, resume, cancel, and how far one has got.

start() stores the Newsletter (table broadcasts) and its outbox event
(EventKind.NEWSLETTER, made by webapp.mail.outbox.record) in the caller's transaction, so
the admin's page returns at once and the fan-out workers write the files, exactly once per
member, surviving a restart of everything. It refuses a text shorter than MIN_BODY_CHARS
(NewsletterRefused, which `flask --app webapp broadcast` prints); the admin's form asks
body_problem() first. The audience is every activated, not disabled member with the
newsletter on and an address that is not bouncing, decided per member when the worker
reaches them (a member who turns the newsletter off meanwhile gets nothing). Pausing takes
the event's lease away and holds it (not_before = PAUSED): the batch a worker has in hand
is discarded uncommitted, and what is already in pickup still goes. Cancelling marks the
event done the same way. A newsletter the fan-out has finished stays done: pause and
cancel then change nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func

from webapp.accounts.models import User
from webapp.mail import outbox
from webapp.mail.kinds import EventKind
from webapp.mail.models import Newsletter, OutboxEvent
from webapp.posts.markdown import render
from webapp.site.database import utcnow
from webapp.site.extensions import db

PAUSED = datetime(9999, 1, 1)
THREAD_KIND = "broadcast"   # a newsletter event's thread_kind, as stored since migration 0009
MIN_BODY_CHARS = 10         # a newsletter's text, the spaces around it left out


class NewsletterRefused(ValueError):
    """A newsletter that cannot be sent as written; str() says why."""


def body_problem(body: str) -> str | None:
    """Why `body` cannot be a newsletter's text, or None when it can."""
    if len(body.strip()) < MIN_BODY_CHARS:
        return f"the body is empty or shorter than {MIN_BODY_CHARS} characters"
    return None


def audience_size() -> int:
    return db.session.execute(db.select(func.count()).select_from(User).where(
        User.reachable(), User.newsletter)).scalar_one()


def start(admin: User, subject: str, body: str) -> Newsletter:
    """The newsletter and its event, in the caller's transaction; NewsletterRefused for a bad text."""
    if (problem := body_problem(body)) is not None:
        raise NewsletterRefused(problem)
    newsletter = Newsletter(author_id=admin.id, subject=subject, body_source=body,
                            body_html=render(body), audience=audience_size())
    db.session.add(newsletter)
    db.session.flush()
    event = outbox.record(EventKind.NEWSLETTER, THREAD_KIND, newsletter.id, newsletter.id, admin.id)
    db.session.flush()
    newsletter.event_id = event.id
    return newsletter


# The states each action applies to (as progress() names them: a finished one is "done").
ACTIONS = {"pause": ("sending",), "resume": ("paused",), "cancel": ("sending", "paused")}


def pause(newsletter: Newsletter) -> bool:
    """Hold the fan-out; False (nothing changed) unless it is still writing."""
    if newsletter.state != "sending" or not _event_update(
            newsletter, not_before=PAUSED, lease_token=None, lease_until=None):
        return False
    newsletter.state = "paused"
    return True


def resume(newsletter: Newsletter) -> bool:
    if newsletter.state != "paused" or not _event_update(newsletter, not_before=utcnow()):
        return False
    newsletter.state = "sending"
    return True


def cancel(newsletter: Newsletter) -> bool:
    """Write nothing more; False (nothing changed) when it is over already."""
    if newsletter.state not in ("sending", "paused") or not _event_update(
            newsletter, done_at=utcnow(), lease_token=None, lease_until=None):
        return False
    newsletter.state = "cancelled"
    return True


def _event_update(newsletter: Newsletter, **values) -> bool:
    """Change the newsletter's event unless the fan-out finished it; whether it did. The state
    follows only then: a newsletter the worker has just finished stays done, not "paused"."""
    result = db.session.execute(db.update(OutboxEvent).where(
        OutboxEvent.id == newsletter.event_id, OutboxEvent.done_at.is_(None)).values(**values))
    return result.rowcount > 0


def progress(newsletter: Newsletter) -> dict:
    """Written, left out, the audience, the rate since it started and the time left."""
    event = db.session.get(OutboxEvent, newsletter.event_id) if newsletter.event_id else None
    written = event.sent if event else 0
    skipped = event.skipped if event else 0
    finished = event is not None and event.done_at is not None
    state = "done" if finished and newsletter.state == "sending" else newsletter.state
    end = event.done_at if finished else utcnow()
    elapsed = max((end - newsletter.created_at).total_seconds(), 0.001)
    rate = written / elapsed
    total = newsletter.audience
    left = max(total - written, 0)
    return {
        "id": newsletter.id, "state": state, "written": written, "left_out": skipped,
        "audience": total, "rate_per_s": round(rate, 1),
        "seconds_left": None if state != "sending" or rate == 0 else round(left / rate, 1),
        "elapsed_s": round(elapsed, 1),
    }

