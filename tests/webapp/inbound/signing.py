"""A DKIM key made for the test and the table of DNS answers that publishes it: what a
test passes as `dns` instead of DNS."""

from __future__ import annotations

import base64

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class SigningDomain:
    """A domain that signs its mail with a fresh 2048-bit RSA key, and the TXT record of it."""

    def __init__(self, domain: str = "example.org", selector: str = "mail"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.domain, self.selector = domain, selector
        self.private_pem = key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.TraditionalOpenSSL,
                                             serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.txt = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def sign(self, message: bytes) -> bytes:
        """`message` with a DKIM-Signature of this domain at its top."""
        signature = dkim.sign(message, self.selector.encode(), self.domain.encode(), self.private_pem,
                              include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        return signature + message

    def keys(self):
        """A KeyLookup answering for this domain's selector only, as DNS would."""
        records = {f"{self.selector}._domainkey.{self.domain}.".encode(): self.txt}

        def lookup(name: bytes, timeout: float = 5.0) -> bytes | None:
            return records.get(name)
        return lookup
