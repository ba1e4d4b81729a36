"""Members and their login sessions: the users and login_sessions tables.

A member's row holds their address, password hash, settings, bounce state and whether an
admin disabled them; a login session's row holds only the sha256 of its cookie's key.
Portable SQL (SQLite or PostgreSQL); the schema is the Alembic migrations' (webapp/migrations).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, and_
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.accounts import handles
from webapp.site import page_cache
from webapp.site.database import utcnow
from webapp.site.extensions import db

# Compared against when the address is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    # What a post mentions them by (@handle): unique, made at the first flush (webapp.accounts.handles).
    handle: Mapped[str | None] = mapped_column(String(30), unique=True, index=True, default=None)
    password_hash: Mapped[str] = mapped_column(String(256))
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The member's settings (webapp.accounts.member_settings): follow what I answer or comment on;
    # mail about followed posts "away" (only what is unread on the site after [webapp]
    # mail_when_away) | "instant" (always, at once) | "daily" | "off"; the newsletter.
    follow_on_reply: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    notify_mode: Mapped[str] = mapped_column(String(10), default="away", server_default="away")
    # Opt-in: a new member gets it only if they ask (the registration form's box). The server
    # default (migration 0006) gave the members of then the newsletter; they keep their choice.
    newsletter: Mapped[bool] = mapped_column(default=False, server_default=sa_true())
    # A new address waiting for its confirmation link (webapp.accounts.member_settings); None when none.
    pending_email: Mapped[str | None] = mapped_column(String(254), default=None)
    # When mail to this address started failing for good (set from the relay's feedback
    # file); a bouncing member gets no notifications or newsletter. None = not bouncing.
    bouncing_at: Mapped[datetime | None] = mapped_column(default=None)
    soft_bounces: Mapped[int] = mapped_column(default=0, server_default="0")  # since the last success
    bounce_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # When an admin disabled the account (webapp.admin.members) and that admin's address: a
    # disabled member cannot log in and gets no notifications. None = not disabled.
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_by: Mapped[str | None] = mapped_column(String(254), default=None)
    # The member's notifications with no read_at (webapp.notices): the bell's count, kept in
    # step by the transactions that add or read them, so a page view counts nothing.
    unread_notices: Mapped[int] = mapped_column(default=0, server_default="0")

    # The key of the login session this request belongs to (set by webapp.accounts.session_store);
    # Flask-Login keeps it in the session cookie. Not a column: the row holds only its hash.
    session_key = None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_activated(self) -> bool:
        return self.activated_at is not None

    @classmethod
    def reachable(cls):
        """SQL: members mail may go to at all (activated, not disabled, address not bouncing);
        webapp.mail.fanout applies the same rule row by row, to record which one left a member out."""
        return and_(cls.activated_at.is_not(None), cls.disabled_at.is_(None), cls.bouncing_at.is_(None))

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    def get_id(self) -> str | None:  # Flask-Login keeps this in the session cookie
        return self.session_key

    @staticmethod
    def normalize_email(email: str) -> str:
        return email.strip().lower()

    @classmethod
    def by_email(cls, email: str) -> User | None:
        return db.session.execute(
            db.select(cls).filter_by(email=cls.normalize_email(email))).scalar_one_or_none()


class LoginSession(db.Model):
    """One login: made by logging in, ended by logging out, by age, or by a new password."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the cookie's key: a copy of the database cannot be used to log in.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship()


def check_password_in_constant_time(user: User | None, password: str) -> bool:
    """Check a login; an unknown address costs the same hash as a known one."""
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return user.check_password(password)


handles.install()

# Names and profiles show on public pages: a change makes the visitor page cache forget.
page_cache.shows(User)
