"""The return path of each mail: bounces+TOKEN@<bounce domain>, naming its member and its mail
without revealing either (VERP, as Mailman does it, but signed and opaque).

With [webapp] bounce_address set, bulk mail (notifications, digests, newsletters) and account
mail go out with this envelope sender (the pickup file's X-Sender), so a bounce or a complaint
sent back to it says whom and what it is about, even when it does not name the address
(forwarded mail). Empty: off, and the envelope sender stays mail_from's address.

The token is 36 characters of base32 in lowercase (letters and 2-7: it survives an MTA that
lowercases or uppercases local parts) for 22 bytes: a 10-byte tag, HMAC-SHA256 of the payload
under a key derived from the site's secret key, then the 12-byte payload (what kind of mail
1 byte, member 4, the mail's own id 4, and 3 bytes of a keyed hash of the address it went to)
encrypted with a keystream made from the tag (a synthetic-IV construction): nobody without the
key reads a member id in it, forges one, or changes one into another member's. The address
hash tells a bounce for an address the member has since changed (read() still returns it; the
caller decides). read() returns None for anything that is not a token we made, whatever case.
"""

from __future__ import annotations

import functools
import hmac
import struct
from dataclasses import dataclass
from enum import IntEnum

from flask import current_app

from webapp.site import address_tokens
from webapp.site.config import site_config

_PAYLOAD = struct.Struct(">BII3s")
_TAG = 10
TOKEN_LENGTH = 36   # characters: base32 of _TAG + _PAYLOAD.size bytes, unpadded


class ReturnKind(IntEnum):
    """What a return path is about, and what its `mail_id` then is."""
    NOTIFICATION = 1   # an outbox event (the delivery key is (event, member))
    NEWSLETTER = 2     # the newsletter's outbox event
    DIGEST = 3         # a daily digest: the day's date.toordinal()
    ACCOUNT = 4        # account mail: its kind's number (webapp.accounts.account_mail)


@dataclass(frozen=True)
class ReturnToken:
    """What a valid token says."""
    kind: ReturnKind
    member_id: int
    mail_id: int
    address_hash: bytes   # of the address the mail went to; compare with address_hash()


class ReturnPaths:
    """The return paths of many mails of one kind and id (a fan-out): the key and the
    domain looked up once; for_member() costs three HMACs of a few bytes."""

    def __init__(self, kind: ReturnKind, mail_id: int):
        bounce_address = site_config().webapp.bounce_address
        self._local, _at, self._domain = bounce_address.rpartition("@")
        self._keys = _keys(current_app.config["SECRET_KEY"])
        self._kind, self._mail_id = kind, mail_id

    def for_member(self, member_id: int, address: str) -> str:
        """bounces+TOKEN@domain for the mail of this kind and id to `member_id` at `address`."""
        return f"{self._local}+{self.token(member_id, address)}@{self._domain}"

    def token(self, member_id: int, address: str) -> str:
        payload = _PAYLOAD.pack(self._kind, member_id, self._mail_id,
                                _address_hash(self._keys, address))
        tag = hmac.digest(self._keys.tag, payload, "sha256")[:_TAG]
        sealed = bytes(a ^ b for a, b in zip(payload, _keystream(self._keys, tag), strict=False))
        return address_tokens.encode(tag + sealed)


def envelope_sender(kind: ReturnKind, mail_id: int, member_id: int, address: str) -> str | None:
    """The return path of one mail, or None when [webapp] bounce_address is off."""
    if not site_config().webapp.bounce_address:
        return None
    return ReturnPaths(kind, mail_id).for_member(member_id, address)


def paths_for(kind: ReturnKind, mail_id: int) -> ReturnPaths | None:
    """The ReturnPaths of a fan-out, or None when [webapp] bounce_address is off."""
    return ReturnPaths(kind, mail_id) if site_config().webapp.bounce_address else None


def read(token: str) -> ReturnToken | None:
    """What `token` (in any case) says, or None when we did not make it."""
    raw = address_tokens.decode(token, TOKEN_LENGTH)
    if raw is None:
        return None
    keys = _keys(current_app.config["SECRET_KEY"])
    tag, sealed = raw[:_TAG], raw[_TAG:]
    payload = bytes(a ^ b for a, b in zip(sealed, _keystream(keys, tag), strict=False))
    if not hmac.compare_digest(hmac.digest(keys.tag, payload, "sha256")[:_TAG], tag):
        return None
    kind, member_id, mail_id, address_hash = _PAYLOAD.unpack(payload)
    if kind not in ReturnKind._value2member_map_:
        return None
    return ReturnToken(ReturnKind(kind), member_id, mail_id, address_hash)


def address_hash(address: str) -> bytes:
    """The keyed hash a token carries of `address`: equal to a token's when the mail went there."""
    return _address_hash(_keys(current_app.config["SECRET_KEY"]), address)


@dataclass(frozen=True)
class _Keys:
    tag: bytes
    stream: bytes
    address: bytes


@functools.lru_cache(maxsize=4)
def _keys(secret: str | bytes) -> _Keys:
    secret = secret.encode() if isinstance(secret, str) else secret
    derive = lambda label: hmac.digest(secret, b"return-path " + label, "sha256")  # noqa: E731
    return _Keys(derive(b"tag"), derive(b"stream"), derive(b"address"))


def _keystream(keys: _Keys, tag: bytes) -> bytes:
    return hmac.digest(keys.stream, tag, "sha256")


def _address_hash(keys: _Keys, address: str) -> bytes:
    return hmac.digest(keys.address, address.strip().lower().encode("utf-8"), "sha256")[:3]
