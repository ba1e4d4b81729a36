"""Login sessions in the database: one row per login, and the cookie names the row.

Logging in makes a row (a random key goes in Flask's signed session cookie, only its
sha256 in the database); each request looks the key up, so logging out, "log out
everywhere", a new password and an admin disabling the account end a session on the
server: a copied cookie stops working; ending them all cancels a pending address change
too. A session ends [webapp] session_lifetime after it began, or after session_idle_timeout
without a request when that is set. Rows past their end are deleted at the next login.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import request

from webapp.accounts.models import LoginSession, User
from webapp.site.config import site_config
from webapp.site.database import utcnow
from webapp.site.extensions import db

# last_seen_at is written at most this often, so browsing is not a database write per page.
LAST_SEEN_PRECISION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(user: User) -> str:
    """Make a session for `user` (who just proved their password) and return its cookie key."""
    _delete_ended()
    key = secrets.token_urlsafe(32)
    agent = (request.user_agent.string or "")[:200]
    db.session.add(LoginSession(key_hash=_hash(key), user_id=user.id, user_agent=agent))
    db.session.commit()
    user.session_key = key
    return key


def resolve(key: str) -> User | None:
    """The user whose live session `key` names, or None (unknown, ended, expired, idle)."""
    row = db.session.execute(
        db.select(LoginSession).filter_by(key_hash=_hash(key))).scalar_one_or_none()
    if row is None:
        return None
    now = utcnow()
    if not _is_live(row, now):
        db.session.delete(row)
        db.session.commit()
        return None
    if now - row.last_seen_at >= LAST_SEEN_PRECISION:
        row.last_seen_at = now
        db.session.commit()
    user = row.user
    if user.is_disabled:  # disabling ends the rows; this catches a login racing it
        db.session.delete(row)
        db.session.commit()
        return None
    user.session_key = key
    return user


def current(user: User) -> LoginSession | None:
    """The row of the session this request belongs to."""
    if not user.session_key:
        return None
    return db.session.execute(
        db.select(LoginSession).filter_by(key_hash=_hash(user.session_key))).scalar_one_or_none()


def live_sessions(user: User) -> list[LoginSession]:
    """The user's sessions that still work, the most recently used first."""
    rows = db.session.execute(
        db.select(LoginSession).filter_by(user_id=user.id)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())).scalars()
    now = utcnow()
    return [row for row in rows if _is_live(row, now)]


def end(user: User, session_id: int) -> bool:
    """End one of `user`'s sessions; False if it is not theirs (or already gone)."""
    deleted = db.session.execute(
        db.delete(LoginSession).filter_by(id=session_id, user_id=user.id)).rowcount
    db.session.commit()
    return bool(deleted)


def end_current(user: User) -> None:
    if user.session_key:
        db.session.execute(db.delete(LoginSession).filter_by(key_hash=_hash(user.session_key)))
        db.session.commit()


def end_all(user: User) -> None:
    """End every session of `user` and what a session asked for and waits for a link: a new
    address (log out everywhere, a new password, a reset, disabling: whoever knew the old
    password keeps nothing it gave them). The caller commits."""
    db.session.execute(db.delete(LoginSession).filter_by(user_id=user.id))
    user.pending_email = None   # its link (webapp.accounts.tokens EMAIL_CHANGE) stops working


def ends_at(row: LoginSession) -> datetime:
    """When the session stops working if it is not ended before."""
    lifetime, idle = _limits()
    end_by_age = row.created_at + lifetime
    if idle is None:
        return end_by_age
    return min(end_by_age, row.last_seen_at + idle)


def _is_live(row: LoginSession, now: datetime) -> bool:
    return now < ends_at(row)


def _limits() -> tuple[timedelta, timedelta | None]:
    web = site_config().webapp
    idle = web.session_idle_timeout
    return (timedelta(seconds=web.session_lifetime),
            timedelta(seconds=idle) if idle else None)


def _delete_ended() -> None:
    lifetime, idle = _limits()
    now = utcnow()
    ended = LoginSession.created_at <= now - lifetime
    if idle is not None:
        ended = ended | (LoginSession.last_seen_at <= now - idle)
    db.session.execute(db.delete(LoginSession).where(ended))
