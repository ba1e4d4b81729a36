"""One-click unsubscribe (RFC 8058) from the links in notification mail.

Each mail carries a link signed for one member and one thing: a followed question, article
or tag, the tags of a new question (its mail's link), the newsletter, or all notification
mail (the daily digest's and a mention's link: it sets the member's notify_mode to "off", as
the settings page does). The signature (itsdangerous,
the site's secret key, its own salt) is what authorises the change, so the link works
without a login, and a link cannot be altered to name another member or another post. A
POST unsubscribes at once and answers 200: mail providers send it without cookies or a
CSRF token, which is why this route alone is exempt from CSRF. A GET never changes
anything (mail scanners open links): it shows a page with the button that makes that POST.
The link never expires, so its pages send no Referer (webapp.site.security_headers.no_referrer).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass

from flask import Blueprint, current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from webapp.accounts.models import User
from webapp.posts import subscriptions
from webapp.posts.models import Question
from webapp.site.extensions import csrf, db
from webapp.site.links import base_url
from webapp.site.security_headers import no_referrer

bp = Blueprint("unsubscribe", __name__)

# Links that turn a setting off rather than end a subscription ("question", "article").
NEWSLETTER_SETTING = "newsletter"         # the newsletter
NOTIFICATIONS_SETTING = "notifications"   # all mail about followed posts (the digest's link)
TAGS_OF_QUESTION = "tags"                 # following the tags of a question (a new question's mail)
_SETTINGS = (NEWSLETTER_SETTING, NOTIFICATIONS_SETTING)
_SALT = "unsubscribe"


def make_token(user_id: int, kind: str, target_id: int = 0) -> str:
    """The signed part of a member's unsubscribe link for `kind` ("question", "article",
    "newsletter", "notifications") and, for a post, its id."""
    return UnsubscribeLinks(kind, target_id).token(user_id)


def link(user_id: int, kind: str, target_id: int = 0) -> str:
    return UnsubscribeLinks(kind, target_id).link(user_id)


class UnsubscribeLinks:
    """The unsubscribe links of many members for one thing (a fan-out): the key, the site's
    address and the thing looked up once.

    A token is URLSafeSerializer(key, salt).dumps([user_id, kind, target_id]), made directly
    (tested equal): through itsdangerous one cost ~0.2 ms, 2 s of a fan-out to 10,000
    followers, where the HMAC itself costs a few µs. _read() checks it with itsdangerous."""

    def __init__(self, kind: str, target_id: int = 0):
        self._base = f"{base_url()}/unsubscribe/"
        self._key = _signing_key(current_app.config["SECRET_KEY"])
        self._rest = "," + json.dumps([kind, target_id], separators=(",", ":"))[1:]

    def token(self, user_id: int) -> str:
        payload = _b64(f"[{int(user_id)}{self._rest}".encode())   # json.dumps([user_id, kind, target_id])
        return (payload + b"." + _b64(hmac.new(self._key, payload, hashlib.sha1).digest())).decode("ascii")

    def link(self, user_id: int) -> str:
        return self._base + self.token(user_id)


@functools.lru_cache(maxsize=4)
def _signing_key(secret: str | bytes) -> bytes:
    # itsdangerous' default derivation ("django-concat", SHA-1), which its loads() checks against.
    secret = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha1(_SALT.encode() + b"signer" + secret).digest()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@dataclass(frozen=True)
class _Named:
    """What a valid link names: the member, what they leave, and the post when it is one."""
    user: User
    kind: str
    target_id: int
    post: object

    def subscribed(self) -> bool:
        if self.kind == NEWSLETTER_SETTING:
            return self.user.newsletter
        if self.kind == NOTIFICATIONS_SETTING:
            return self.user.notify_mode != "off"
        if self.kind == TAGS_OF_QUESTION:
            return subscriptions.follows_tags_of(self.user.id, self.target_id)
        return subscriptions.is_following_id(self.user.id, self.kind, self.target_id)

    def unsubscribe(self) -> None:
        turn_off(self.user, self.kind, self.target_id)


def turn_off(user: User, kind: str, target_id: int = 0) -> None:
    """What a link for `kind` stops (the caller commits): the newsletter, all notification mail,
    or following one post. A complaint about a mail (webapp.inbound) stops its kind this way."""
    if kind == NEWSLETTER_SETTING:
        user.newsletter = False
    elif kind == NOTIFICATIONS_SETTING:
        user.notify_mode = "off"
    elif kind == TAGS_OF_QUESTION:
        subscriptions.unfollow_tags_of(user, target_id)
    else:
        subscriptions.unfollow(user, kind, target_id)


def _read(token: str) -> _Named | None:
    try:
        user_id, kind, target_id = URLSafeSerializer(current_app.config["SECRET_KEY"],
                                                     salt=_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if kind == TAGS_OF_QUESTION and user is not None:
        return _Named(user, kind, target_id, db.session.get(Question, target_id))
    if user is None or (kind not in _SETTINGS and kind not in subscriptions.FOLLOWABLE):
        return None
    post = db.session.get(subscriptions.FOLLOWABLE[kind], target_id) if kind not in _SETTINGS else None
    return _Named(user, kind, target_id, post)


@bp.route("/unsubscribe/<token>", methods=["GET"])
@no_referrer
def confirm(token: str):
    named = _read(token)
    if named is None:
        return _bad_link()
    return _page(named, done=False, subscribed=named.subscribed())


@bp.route("/unsubscribe/<token>", methods=["POST"])
@csrf.exempt
@no_referrer
def one_click(token: str):
    named = _read(token)
    if named is None:
        return _bad_link()
    named.unsubscribe()
    db.session.commit()
    current_app.logger.info("unsubscribed member %s from %s %s by link", named.user.id, named.kind,
                            named.target_id)
    return _page(named, done=True, subscribed=False)


def _page(named: _Named, *, done: bool, subscribed: bool):
    return render_template("unsubscribe/confirm.html", kind=named.kind, post=named.post, done=done,
                           subscribed=subscribed)


def _bad_link():
    return render_template("error.html", code=404, title="This link does not work",
                           text="This unsubscribe link is not valid: it may have been cut short "
                                "when it was copied. Your settings page lists everything you "
                                "follow."), 404
