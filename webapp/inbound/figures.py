"""What came back, per day: bounces, complaints, replies, auto-replies and dropped files from the
inbound worker's records, beside the bulk mail sent that day and the complaint rate.

daily() serves the admins' queue dashboard (webapp.admin.queue_dashboard) and `flask --app webapp
inbound-status`. Bulk mail sent on a day is the notifications and newsletters of the outbox
events finished that day (outbox_events.sent by done_at: an event's mail is written within
seconds) and that day's digests. The complaint rate is complaints / bulk mail sent; Gmail asks
bulk senders to stay under 0.3%. Reads inbound_messages, outbox_events, digests and users;
writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func

from webapp.accounts.models import User
from webapp.inbound.message import Handled
from webapp.inbound.models import InboundMessage
from webapp.mail.models import Digest, OutboxEvent
from webapp.site.database import utcnow
from webapp.site.extensions import db

DAYS = 14
COMPLAINT_RATE_LIMIT = 0.003   # Gmail's threshold for bulk senders
_REPLIES = (Handled.REPLY, Handled.REPLY_REFUSED)


@dataclass
class DayFigures:
    day: date
    handled: dict[str, int] = field(default_factory=dict)   # by Handled value
    bulk_sent: int = 0

    @property
    def bounces(self) -> int:
        return self.handled.get(Handled.BOUNCE, 0)

    @property
    def complaints(self) -> int:
        return self.handled.get(Handled.COMPLAINT, 0)

    @property
    def replies(self) -> int:
        return sum(self.handled.get(kind, 0) for kind in _REPLIES)

    @property
    def auto_replies(self) -> int:
        return self.handled.get(Handled.AUTO_REPLY, 0)

    @property
    def dropped(self) -> int:
        return self.handled.get(Handled.DROPPED, 0)

    @property
    def complaint_rate(self) -> float | None:
        """Complaints per bulk mail sent that day; None when none was sent."""
        return self.complaints / self.bulk_sent if self.bulk_sent else None

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "bounces": self.bounces, "complaints": self.complaints,
                "replies": self.replies, "auto_replies": self.auto_replies, "dropped": self.dropped,
                "bulk_sent": self.bulk_sent, "complaint_rate": self.complaint_rate}


def daily(days: int = DAYS, today: date | None = None) -> list[DayFigures]:
    """The last `days` days (UTC), newest first, today included."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    figures = {first + timedelta(days=n): DayFigures(first + timedelta(days=n)) for n in range(days)}
    since = datetime.combine(first, datetime.min.time())
    handled_day = func.date(InboundMessage.handled_at)
    for day, handled, count in db.session.execute(
            db.select(handled_day, InboundMessage.handled, func.count())
            .where(InboundMessage.handled_at >= since).group_by(handled_day, InboundMessage.handled)):
        if (seen := _day(day)) in figures:
            figures[seen].handled[handled] = count
    done_day = func.date(OutboxEvent.done_at)
    for day, sent in db.session.execute(
            db.select(done_day, func.sum(OutboxEvent.sent))
            .where(OutboxEvent.done_at >= since).group_by(done_day)):
        if (seen := _day(day)) in figures:
            figures[seen].bulk_sent += int(sent or 0)
    for day, count in db.session.execute(
            db.select(Digest.day, func.count()).where(Digest.day >= first).group_by(Digest.day)):
        if (seen := _day(day)) in figures:
            figures[seen].bulk_sent += count
    return sorted(figures.values(), key=lambda f: f.day, reverse=True)


@dataclass(frozen=True)
class Complaint:
    at: datetime
    member_id: int | None
    email: str | None
    detail: str


def recent_complaints(limit: int = 50) -> list[Complaint]:
    """The newest complaints, with the member's address now."""
    rows = db.session.execute(
        db.select(InboundMessage.handled_at, InboundMessage.member_id, User.email,
                  InboundMessage.detail)
        .outerjoin(User, User.id == InboundMessage.member_id)
        .where(InboundMessage.handled == Handled.COMPLAINT)
        .order_by(InboundMessage.handled_at.desc(), InboundMessage.id.desc()).limit(limit)).all()
    return [Complaint(*row) for row in rows]


def _day(value) -> date:
    """A date() of SQL as the driver gives it back: a date, or SQLite's "YYYY-MM-DD"."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
