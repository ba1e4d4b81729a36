"""Signed, expiring links for account mail (itsdangerous), with nothing readable in them.

A token carries a user id and a keyed fingerprint (HMAC with the site's secret key),
never an address: base64 shows a number and 22 random-looking characters.
Activation: the fingerprint of the address, valid [webapp] activation_expiry (48 h).
Password reset: the fingerprint of the current password hash, valid 1 hour; it stops
working the moment the password changes, so it is single use. A tampered, expired or
used token raises TokenError with a plain reason.
Email change: the fingerprint of the current and the pending address, valid as long as
activation; it stops working once the address changed or another change was asked for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webapp.accounts.models import User
from webapp.site.extensions import db

ACTIVATION = "account-activation"
RESET = "password-reset"
EMAIL_CHANGE = "email-change"


class TokenError(Exception):
    """The link cannot be used; str() says why, in words for the person who clicked it."""


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(purpose: str, value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def make_activation_token(user: User) -> str:
    return _serializer(ACTIVATION).dumps([user.id, _fingerprint(ACTIVATION, user.email)])


def make_reset_token(user: User) -> str:
    return _serializer(RESET).dumps([user.id, _fingerprint(RESET, user.password_hash)])


def make_email_change_token(user: User) -> str:
    return _serializer(EMAIL_CHANGE).dumps(
        [user.id, _fingerprint(EMAIL_CHANGE, f"{user.email}\0{user.pending_email}")])


def read_email_change_token(token: str) -> User:
    user_id, fingerprint = _load(EMAIL_CHANGE, token, current_app.config["ACTIVATION_MAX_AGE"])
    user = db.session.get(User, user_id)
    if user is None or not user.pending_email or not hmac.compare_digest(
            _fingerprint(EMAIL_CHANGE, f"{user.email}\0{user.pending_email}"), fingerprint):
        raise TokenError("This link has already been used, or a newer change was asked for.")
    return user


def read_activation_token(token: str) -> User:
    user_id, fingerprint = _load(ACTIVATION, token, current_app.config["ACTIVATION_MAX_AGE"])
    user = db.session.get(User, user_id)
    if user is None or not hmac.compare_digest(_fingerprint(ACTIVATION, user.email), fingerprint):
        raise TokenError("This activation link does not belong to any account.")
    return user


def read_reset_token(token: str) -> User:
    user_id, fingerprint = _load(RESET, token, current_app.config["RESET_MAX_AGE"])
    user = db.session.get(User, user_id)
    if user is None or not hmac.compare_digest(_fingerprint(RESET, user.password_hash), fingerprint):
        raise TokenError("This reset link has already been used. Ask for a new one if you need it.")
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
