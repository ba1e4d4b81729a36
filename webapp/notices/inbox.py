"""A member's notifications: adding them (for the fan-out), a page of them, marking them read.

add() runs inside the fan-out's batch transaction (webapp.mail.fanout), so the rows and the
deliveries commit or roll back together. Every change to a row's read_at changes
users.unread_notices by as much in the same transaction: the counter is the bell's count.
Reading a notification also settles the mail still open for it (kinds.UNTIL_READ: waiting
for mail_when_away, or for the digest) as "read on the site": those mails never go.
Reads and writes notifications, users and outbox_deliveries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, update

from webapp.accounts.models import User
from webapp.mail.kinds import NOT_ON_SITE, UNTIL_READ, SkipReason
from webapp.mail.models import OutboxDelivery, OutboxEvent
from webapp.notices.models import Notice
from webapp.site.database import utcnow
from webapp.site.extensions import db

PAGE = 30   # notifications a page


def add(event: OutboxEvent, decisions, now: datetime) -> None:
    """One notification per member the event is about (all but NOT_ON_SITE: whatever their mail
    setting or address), and their unread counts, in the caller's transaction."""
    told = [member.id for member, status in decisions if status not in NOT_ON_SITE]
    if not told:
        return
    db.session.execute(insert(Notice.__table__), [
        {"user_id": user_id, "event_id": event.id, "kind": event.kind, "thread_kind": event.thread_kind,
         "thread_id": event.thread_id, "post_id": event.post_id, "actor_id": event.actor_id,
         "created_at": now} for user_id in told])
    db.session.execute(update(User).where(User.id.in_(told))
                       .values(unread_notices=User.unread_notices + 1))


@dataclass(frozen=True)
class Page:
    items: list[Notice]
    next_before: int | None   # the `before` of the next (older) page; None on the last


def page(user_id: int, before: int | None = None, size: int = PAGE) -> Page:
    """The member's notifications newest first, those with id < `before` (a keyset: no OFFSET)."""
    query = db.select(Notice).where(Notice.user_id == user_id)
    if before is not None:
        query = query.where(Notice.id < before)
    rows = db.session.execute(query.order_by(Notice.id.desc()).limit(size + 1)).scalars().all()
    return Page(rows[:size], rows[size - 1].id if len(rows) > size else None)


def mark_thread_read(user: User, thread_kind: str, thread_id: int, now: datetime | None = None) -> int:
    """Mark the member's unread notifications about this question or article read (opening it);
    returns how many. Costs nothing when the member has none unread."""
    if not user.unread_notices:
        return 0
    return _mark(user, now, Notice.thread_kind == thread_kind, Notice.thread_id == thread_id)


def opened(user, thread_kind: str, thread_id: int) -> None:
    """A member opened a question or article page: what they were told about it is read now
    (GitHub-like), committed at once. A visitor, or a member with nothing unread, writes nothing."""
    if user.is_authenticated and mark_thread_read(user._get_current_object(), thread_kind, thread_id):
        db.session.commit()


def mark_all_read(user: User, now: datetime | None = None) -> int:
    return _mark(user, now)


def _mark(user: User, now: datetime | None, *where) -> int:
    now = now or utcnow()
    unread = (Notice.user_id == user.id, Notice.read_at.is_(None), *where)
    events = db.session.execute(db.select(Notice.event_id).where(*unread)).scalars().all()
    if not events:
        return 0
    # Only the rows still unread count: a concurrent reader's rows are not taken twice.
    marked = db.session.execute(update(Notice).where(*unread, Notice.event_id.in_(events))
                                .values(read_at=now)).rowcount
    db.session.execute(update(User).where(User.id == user.id)
                       .values(unread_notices=User.unread_notices - marked))
    db.session.execute(update(OutboxDelivery).where(
        OutboxDelivery.user_id == user.id, OutboxDelivery.event_id.in_(events),
        OutboxDelivery.status.in_(UNTIL_READ), OutboxDelivery.digest_id.is_(None))
        .values(status=SkipReason.READ_ON_SITE))
    db.session.expire(user, ["unread_notices"])
    return marked


def unread_by_member(user_ids: list[int]) -> Counter:
    """Each member's unread rows counted in the table (what the counter must equal; for checks)."""
    return Counter(db.session.execute(db.select(Notice.user_id).where(
        Notice.user_id.in_(user_ids), Notice.read_at.is_(None))).scalars())
