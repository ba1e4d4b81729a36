"""Signed, expiring links for account mail (itsdangerous), with nothing readable in them.

A token carries a user id and a keyed fingerprint (HMAC with the site's secret key),
never an address: base64 shows a number and 22 random-looking characters.
Activation: the fingerprint of the address and the password hash, valid [webapp]
activation_expiry (48 h): it activates the password typed at registration and no other.
Choose password (a resent activation, "you already have an account"): the same fingerprint,
as long; it stops working once a password is chosen with it.
Password reset: the fingerprint of the current password hash, valid RESET_MAX_AGE (1 hour);
it stops working the moment the password changes, so it is single use. A tampered, expired or
used token raises TokenError with a plain reason.
Email change (the link to the new address): the fingerprint of the current and the pending
address and of the password hash, valid as long as activation; it stops working once the address
changed, another change was asked for, the change was cancelled (webapp.accounts.address_change)
or the password changed. Not me (the cancel link to the old address): the fingerprint of the
current and the pending address; it works while that change waits.
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
class Purpose:
    """What a kind of link is signed for: its salt, the value whose change makes it stop
    working (None: nothing it could be for), how long it works, the refusal then, and the
    mail it comes in, as its reader names it."""
    salt: str
    fingerprinted: Callable[[User], str | None]
    max_age: Callable[[], int]
    stale: str
    mail: str


def _pending_change(user: User, *more: str) -> str | None:
    return "\0".join((user.email, user.pending_email, *more)) if user.pending_email else None


def _address_and_password(user: User) -> str:
    return f"{user.email}\0{user.password_hash}"


ACTIVATION = Purpose("account-activation", _address_and_password,
                     activation_max_age, "This activation link no longer works: the account's "
                     "password was chosen since. Log in with it, or ask for a new activation email.",
                     "activation")
CHOOSE_PASSWORD = Purpose("choose-password", _address_and_password,
                          activation_max_age, "This link has already been used: the password is "
                          "chosen. Log in with it, or ask for a new activation email.", "activation")
RESET = Purpose("password-reset", lambda user: user.password_hash, lambda: RESET_MAX_AGE,
                "This reset link has already been used. Ask for a new one if you need it.",
                "password reset")
EMAIL_CHANGE = Purpose(
    "email-change", lambda user: _pending_change(user, user.password_hash), activation_max_age,
    "This link no longer works: the change was made or cancelled (a new password, logging out "
    "everywhere and \"this was not me\" cancel it), or a newer one was asked for.", "confirmation")
NOT_ME = Purpose("email-change-not-me", _pending_change, activation_max_age,
                 "There is no change of address to cancel: it was cancelled or made already.",
                 "address change")


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(purpose: str, value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def make(purpose: Purpose, user: User) -> str:
    """The token of a link for `purpose` (ACTIVATION, CHOOSE_PASSWORD, RESET, EMAIL_CHANGE,
    NOT_ME) and `user`."""
    return _serializer(purpose.salt).dumps([user.id, _fingerprint(purpose.salt, purpose.fingerprinted(user))])


def read(purpose: Purpose, token: str) -> User:
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
