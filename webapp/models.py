"""The site's data: members (this part), questions and articles (later parts).

Portable SQL only (SQLite by default, PostgreSQL by changing [webapp] database_url);
the schema is managed by the Alembic migrations in migrations/.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
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
    # Changes with the password: sessions carry it, so a new password ends the old sessions.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, index=True,
                                               default=lambda: secrets.token_urlsafe(32))
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.session_token = secrets.token_urlsafe(32)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_activated(self) -> bool:
        return self.activated_at is not None

    def get_id(self) -> str:  # Flask-Login keeps this in the session
        return self.session_token

    @staticmethod
    def normalize_email(email: str) -> str:
        return email.strip().lower()

    @classmethod
    def by_email(cls, email: str) -> User | None:
        return db.session.execute(
            db.select(cls).filter_by(email=cls.normalize_email(email))).scalar_one_or_none()


def check_password_in_constant_time(user: User | None, password: str) -> bool:
    """Check a login; an unknown address costs the same hash as a known one."""
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return user.check_password(password)
