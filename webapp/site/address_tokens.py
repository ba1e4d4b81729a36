"""The spelling of the tokens the site puts in addresses (bounces+TOKEN@, reply+TOKEN@): lowercase
base32 without padding, which survives an MTA that changes the case of a local part, and read
back in any case, in the one spelling the site makes (the last character carries bits no byte
uses: another letter there decodes to the same bytes and is not taken for the token)."""

from __future__ import annotations

import base64


def encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def decode(token: str, length: int) -> bytes | None:
    """The bytes of `token` (`length` characters, any case); None when it is not one."""
    if len(token) != length or not token.isascii():
        return None
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
    except ValueError:
        return None
    return raw if encode(raw) == token.lower() else None
