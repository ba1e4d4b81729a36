"""The mail's records: the outbox (one event per thing followers are told about, one
delivery row per member it reached or left out), daily digests, newsletters, and how far the
relay's feedback file was read.

Portable SQL; the schema is the Alembic migrations'. The exactly-once protocol these rows
carry is webapp.mail.fanout's and webapp.mail.digest's.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.site.database import utcnow
from webapp.site.extensions import db


class OutboxEvent(db.Model):
    """Something followers are told about, stored in the transaction that made it.

    kind: a webapp.mail.kinds.EventKind (made by webapp.mail.outbox.record() only). The
    fan-out worker (webapp.mail.fanout) claims it with a lease (lease_token, lease_owner,
    lease_until), walks its recipients in user id order past `done_through`, and marks it
    done; see "Exactly once" in docs/notifications.md.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_done_at_not_before", "done_at", "not_before", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    thread_kind: Mapped[str] = mapped_column(String(10))   # "question" | "article"
    thread_id: Mapped[int] = mapped_column()
    post_id: Mapped[int] = mapped_column()                 # the answer or the comment
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)   # created_at + notification_delay
    done_through: Mapped[int] = mapped_column(default=0)  # recipients up to this user id are done
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_owner: Mapped[str] = mapped_column(String(120), default="")
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    sent: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None] = mapped_column(default=None)


class Newsletter(db.Model):
    """A newsletter an admin sent to every activated member with the newsletter on (the table
    keeps the name it was made with, broadcasts).

    Its fan-out is an OutboxEvent of kind "newsletter" (thread_id = this id): the same
    durable, exactly-once path as notifications. Pausing moves the event's not_before to
    PAUSED; resuming sets it back to now; cancelling marks the event done.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    body_source: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    audience: Mapped[int] = mapped_column(default=0)    # members with the newsletter on at the start
    state: Mapped[str] = mapped_column(String(10), default="sending")  # sending | paused | cancelled
    event_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_events.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship()


class Digest(db.Model):
    """One member's daily digest: at most one per member per UTC day (the unique key)."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_digests_user_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column()
    placer: Mapped[str] = mapped_column(String(32))       # the staging token of the file's writer
    items: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxDelivery(db.Model):
    """What one event did for one member: "sent", or the reason it was left out.

    The primary key (event, member) is the delivery key: it names the file and the
    Message-ID, and a second row for the pair cannot exist. `placer` is the staging token
    of the process whose file this row commits (spooler.staged). status: kinds.SENT or a
    webapp.mail.kinds.SkipReason (kinds.FOR_THE_DIGEST items go into the member's next
    digest, which sets digest_id).
    """

    __tablename__ = "outbox_deliveries"
    __table_args__ = (Index("ix_outbox_deliveries_user_id_created_at", "user_id", "created_at"),
                      Index("ix_outbox_deliveries_status_digest_id", "status", "digest_id"))

    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"),
                                          primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    placer: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="SET NULL"),
                                                  default=None)


class FeedbackCursor(db.Model):
    """How far this host's site has read its relay's feedback file (webapp.mail.bounces): the file's
    inode and the offset after the last line taken (read_to). One row per host and path."""

    __tablename__ = "feedback_cursors"
    __table_args__ = (UniqueConstraint("host", "path", name="uq_feedback_cursors_host_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(120))
    path: Mapped[str] = mapped_column(String(500))
    inode: Mapped[int] = mapped_column(BigInteger, default=0)
    read_to: Mapped[int] = mapped_column(BigInteger, default=0)
