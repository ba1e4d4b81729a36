"""Reply addresses: the Reply-To of a notification of an answer or a comment, and reading
the token in one back.

A member's notification about a question or an article carries Reply-To: LOCAL+TOKEN@DOMAIN,
made from [webapp] reply_address ("" = off: no Reply-To, as before). The token names the
member, the thread (question or article) and the day it was made, signed with the site's
secret key: HMAC-SHA256 under a key of its own (derived with the salt "reply-address"), cut to
80 bits. It is 21 bytes (a version and kind byte, member id, thread id, day: 4, 4, 2 bytes,
then the MAC) in base32 without padding, lower case: 34 characters of a-z and 2-7, which an
MTA that lowercases local parts does not change, and which leave the local part (at most 64
characters, RFC 5321) room for 29 of its own. Nothing is stored: the signature is the record.

A token works [webapp] reply_expiry (30 days) after the day it was made, so between 30 and 31
days: long enough for a backlog read after a holiday, short enough that an old mail found in
an archive or a forwarded thread stops posting in a member's name. read() refuses with
ReplyTokenError: TokenNotValid when it is not one the site made with this key (nobody can be
told: the member it names is not to be trusted), TokenExpired (signature good: it carries
what the token named, so the member can be told). The same member and thread get the same
token all day. Reads [webapp] reply_address, reply_expiry and the app's SECRET_KEY.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass

from flask import current_app

from webapp.mail.kinds import EventKind
from webapp.site import address_tokens
from webapp.site.config import site_config

DAY = 86_400
_VERSION = 1
_KINDS = {"question": 1, "article": 2}
_KIND_NAMES = {code: name for name, code in _KINDS.items()}
_PAYLOAD = struct.Struct(">BIIH")          # version << 4 | kind, member id, thread id, day
_MAC_BYTES = 10
TOKEN_LENGTH = 34                          # base32 of 21 bytes, without its padding
REPLIED_KINDS = (EventKind.ANSWER, EventKind.COMMENT)   # the notifications that carry a Reply-To


class ReplyTokenError(Exception):
    """A reply address that cannot be used; str() says why, for the member."""


class TokenNotValid(ReplyTokenError):
    """Not a token this site made with its current key: cut short, changed, or made up."""


class TokenExpired(ReplyTokenError):
    """A genuine token past [webapp] reply_expiry; `token` is what it named."""

    def __init__(self, token: ReplyToken):
        super().__init__(f"The address you replied to worked for {_days(site_config().webapp.reply_expiry)} "
                         "after its notification, and that time is over.")
        self.token = token


@dataclass(frozen=True)
class ReplyToken:
    """What a reply address names: a member, a question or an article, the day it was made."""
    member_id: int
    thread_kind: str          # "question" | "article"
    thread_id: int
    day: int                  # days since 1970-01-01, UTC


def enabled() -> bool:
    return bool(site_config().webapp.reply_address)


def for_event(kind: str, thread_kind: str, thread_id: int) -> ReplyAddresses | None:
    """The reply addresses of a notification event's recipients; None when its mail carries
    none (replies off, or a kind that is not an answer or a comment)."""
    if not enabled() or kind not in REPLIED_KINDS:
        return None
    return ReplyAddresses(thread_kind, thread_id)


class ReplyAddresses:
    """Many members' reply addresses for one thread (a fan-out): the key, the address's parts
    and the day worked out once; address() costs one HMAC of 11 bytes."""

    def __init__(self, thread_kind: str, thread_id: int, now: float | None = None):
        local, _at, self._domain = site_config().webapp.reply_address.rpartition("@")
        self._local = local + "+"
        self._key = _signing_key(current_app.config["SECRET_KEY"])
        self._kind, self._thread_id = _KINDS[thread_kind], int(thread_id)
        self._day = int((time.time() if now is None else now) // DAY)

    def token(self, member_id: int) -> str:
        payload = _PAYLOAD.pack(_VERSION << 4 | self._kind, member_id, self._thread_id, self._day)
        return address_tokens.encode(payload + _mac(self._key, payload))

    def address(self, member_id: int) -> str:
        return f"{self._local}{self.token(member_id)}@{self._domain}"


def read(token: str, now: float | None = None) -> ReplyToken:
    """What `token` names; TokenNotValid or TokenExpired (ReplyTokenError) saying why not."""
    raw = address_tokens.decode(token, TOKEN_LENGTH)
    if raw is None or len(raw) != _PAYLOAD.size + _MAC_BYTES:
        raise TokenNotValid("The address you replied to is not one this site made: it may have been "
                            "cut short or changed.")
    payload, mac = raw[:_PAYLOAD.size], raw[_PAYLOAD.size:]
    if not hmac.compare_digest(mac, _mac(_signing_key(current_app.config["SECRET_KEY"]), payload)):
        raise TokenNotValid("The address you replied to does not carry this site's signature: it "
                            "may have been changed, or the site's key was renewed since.")
    kind_byte, member_id, thread_id, day = _PAYLOAD.unpack(payload)
    if kind_byte >> 4 != _VERSION or (kind_byte & 0xF) not in _KIND_NAMES:
        raise TokenNotValid("The address you replied to is of a kind this site no longer takes.")
    named = ReplyToken(member_id, _KIND_NAMES[kind_byte & 0xF], thread_id, day)
    now = time.time() if now is None else now
    if now >= (day + 1) * DAY + site_config().webapp.reply_expiry:
        raise TokenExpired(named)
    return named


def token_in(address: str) -> str | None:
    """The token of `address` when it is [webapp] reply_address with +TOKEN (any case), else None."""
    local, _at, domain = address.strip().strip("<>").rpartition("@")
    ours_local, _at, ours_domain = site_config().webapp.reply_address.rpartition("@")
    base, plus, token = local.partition("+")
    if not (ours_local and plus and token and base.lower() == ours_local.lower()
            and domain.lower() == ours_domain.lower()):
        return None
    return token


@functools.lru_cache(maxsize=4)
def _signing_key(secret: str | bytes) -> bytes:
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"reply-address", hashlib.sha256).digest()


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]




def _days(seconds: float) -> str:
    days = round(seconds / DAY)
    return f"{days} day{'s' if days != 1 else ''}" if seconds >= DAY else f"{round(seconds / 3600)} hours"
