"""The notifications table: one row per member told about an outbox event on the site.

Written by the fan-out (webapp.mail.fanout) in the transaction that records the event's
deliveries, so a row exists exactly when the delivery row does; the unique (event, member)
makes a second one impossible. users.unread_notices counts a member's rows with no read_at,
kept in step by the same transactions (webapp.notices.inbox), so the bell reads no table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.site.database import utcnow
from webapp.site.extensions import db

_UNREAD = text("read_at IS NULL")


class Notice(db.Model):
    """What happened (the event's kind, its thread and post) for one member, and when they read it."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
        # The Notifications page: a member's rows newest first, a keyset on id.
        Index("ix_notifications_user_id_id", "user_id", "id"),
        # Opening a thread marks its unread rows read: only unread rows are in this index.
        Index("ix_notifications_unread_thread", "user_id", "thread_kind", "thread_id",
              sqlite_where=_UNREAD, postgresql_where=_UNREAD),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))          # the event's webapp.mail.kinds.EventKind
    thread_kind: Mapped[str] = mapped_column(String(10))   # "question" | "article"
    thread_id: Mapped[int] = mapped_column()
    post_id: Mapped[int] = mapped_column()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
