"""Signed, expiring links for account mail (itsdangerous), with nothing readable in them.

A token carries a user id and a keyed fingerprint (HMAC with the site's secret key),
never an address: base64 shows a number and 22 random-looking characters.
Activation: the fingerprint of the address, valid [webapp] activation_expiry (48 h).
Password reset: the fingerprint of the current password hash, valid RESET_MAX_AGE (1 hour);
it stops working the moment the password changes, so it is single use. A tampered, expired or
used token raises TokenError with a plain reason.
Email change: the fingerprint of the current and the pending address, valid as long as
activation; it stops working once the address changed or another change was asked for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webapp.accounts.models import User
from webapp.site.config import site_config
from webapp.site.extensions import db

RESET_MAX_AGE = 3600   # seconds a password reset link works


class TokenError(Exception):
    """The link cannot be used; str() says why, in words for the person who clicked it."""


def activation_max_age() -> int:
    """Seconds an activation (or address change) link works: [webapp] activation_expiry."""
    return int(site_config().webapp.activation_expiry)


@dataclass(frozen=True)
class _Purpose:
    """What a kind of link is signed for: its salt, the value whose change makes it stop
    working (None: nothing it could be for), how long it works, and the refusal then."""
    salt: str
    fingerprinted: Callable[[User], str | None]
    max_age: Callable[[], int]
    stale: str


ACTIVATION = _Purpose("account-activation", lambda user: user.email, activation_max_age,
                      "This activation link does not belong to any account.")
RESET = _Purpose("password-reset", lambda user: user.password_hash, lambda: RESET_MAX_AGE,
                 "This reset link has already been used. Ask for a new one if you need it.")
EMAIL_CHANGE = _Purpose(
    "email-change", lambda user: f"{user.email}\0{user.pending_email}" if user.pending_email else None,
    activation_max_age, "This link has already been used, or a newer change was asked for.")


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(purpose: str, value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def make(purpose: _Purpose, user: User) -> str:
    """The token of a link for `purpose` (ACTIVATION, RESET, EMAIL_CHANGE) and `user`."""
    return _serializer(purpose.salt).dumps([user.id, _fingerprint(purpose.salt, purpose.fingerprinted(user))])


def read(purpose: _Purpose, token: str) -> User:
    """The member a link for `purpose` names; TokenError saying why it cannot be used."""
    user_id, fingerprint = _load(purpose.salt, token, purpose.max_age())
    user = db.session.get(User, user_id)
    value = purpose.fingerprinted(user) if user is not None else None
    if value is None or not hmac.compare_digest(_fingerprint(purpose.salt, value), fingerprint):
        raise TokenError(purpose.stale)
    return user


def _load(salt: str, token: str, max_age: int) -> tuple[int, str]:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise TokenError("This link is not valid. Check that you copied all of it.") from None
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], int)
            and isinstance(data[1], str)):
        raise TokenError("This link is not valid.")
    return data[0], data[1]
