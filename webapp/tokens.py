"""Signed, expiring links for account mail (itsdangerous).

Activation: the user id and address, valid [webapp] activation_hours (48 h).
Password reset: the user id and a fingerprint of the current password hash,
valid 1 hour; it stops working the moment the password changes, so it is
single use. A tampered, expired or used token raises TokenError with a plain reason.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webapp.extensions import db
from webapp.models import User

ACTIVATION = "account-activation"
RESET = "password-reset"


class TokenError(Exception):
    """The link cannot be used; str() says why, in words for the person who clicked it."""


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_activation_token(user: User) -> str:
    return _serializer(ACTIVATION).dumps({"id": user.id, "email": user.email})


def make_reset_token(user: User) -> str:
    return _serializer(RESET).dumps({"id": user.id, "pw": _fingerprint(user)})


def read_activation_token(token: str) -> User:
    data = _load(ACTIVATION, token, current_app.config["ACTIVATION_MAX_AGE"])
    user = db.session.get(User, data.get("id"))
    if user is None or user.email != data.get("email"):
        raise TokenError("This activation link does not belong to any account.")
    return user


def read_reset_token(token: str) -> User:
    data = _load(RESET, token, current_app.config["RESET_MAX_AGE"])
    user = db.session.get(User, data.get("id"))
    if user is None or _fingerprint(user) != data.get("pw"):
        raise TokenError("This reset link has already been used. Ask for a new one if you need it.")
    return user


def _load(salt: str, token: str, max_age: int) -> dict:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise TokenError("This link is not valid. Check that you copied all of it.") from None
    if not isinstance(data, dict):
        raise TokenError("This link is not valid.")
    return data
