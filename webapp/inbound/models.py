"""The inbound worker's record: one row per drop file it handled, written in the transaction
of what the file did (a member marked bouncing, a complaint, a reply posted), so a file is
handled exactly once however often the worker is killed.

file_name is unique: a worker that finds a file whose row exists removes it and does nothing
else (the crash came between the commit and the unlink). The rows are also what the admins'
figures count per day (handled, received_at) and what a member's "once a day" explanatory
mail is checked against (handled REPLY_REFUSED, member_id, handled_at). Portable SQL; the
schema is the Alembic migrations'.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.site.database import utcnow
from webapp.site.extensions import db


class InboundMessage(db.Model):
    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_handled_at", "handled", "handled_at"),
                      Index("ix_inbound_messages_member", "member_id", "handled_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(500), default="")   # the inbound message's own
    sender: Mapped[str] = mapped_column(String(320), default="")       # envelope sender ("" null)
    handled: Mapped[str] = mapped_column(String(20))    # a webapp.inbound.message.Handled
    detail: Mapped[str] = mapped_column(String(1000), default="")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                  nullable=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)   # the drop file's mtime
    handled_at: Mapped[datetime] = mapped_column(default=utcnow)
