"""The site's data: members and their login sessions; questions and articles (later parts).

Portable SQL only (SQLite by default, PostgreSQL by changing [webapp] database_url);
the schema is managed by the Alembic migrations in migrations/.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db

# Compared against when the address is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(256))
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The key of the login session this request belongs to (set by webapp.session_store);
    # Flask-Login keeps it in the session cookie. Not a column: the row holds only its hash.
    session_key = None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_activated(self) -> bool:
        return self.activated_at is not None

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
