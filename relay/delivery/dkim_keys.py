"""DKIM key files: read, checked and loaded once into an OpenSSL key (cryptography).

load_private() reads one [relay.dkim] key_file: a regular file readable and writable by its
owner only (anything more is refused, not read), at most MAX_KEY_SIZE bytes, holding a PEM
private key (RSA of at least MIN_RSA_BITS, PKCS#1 or PKCS#8, no passphrase; Ed25519, PKCS#8 as
`openssl genpkey` writes it, or the bare base64 seed dknewkey writes). It returns what signs
the header hash input (RSA-SHA256 PKCS#1 v1.5, or Ed25519 over its SHA-256: RFC 8463) and the
public key for the DNS record. Raises KeyFileError saying what to fix. relay.delivery.signing
imports it only when a key is configured: a relay that does not sign loads no OpenSSL code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from relay.smtp.credentials import PrivateFileError, read_private

MAX_KEY_SIZE = 65536   # a PEM key is a few KB
MIN_RSA_BITS = 1024    # receivers ignore shorter keys (RFC 8301)
_PKCS1_V15, _SHA256 = padding.PKCS1v15(), hashes.SHA256()


class KeyFileError(Exception):
    """A key file that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class PrivateKey:
    sign: Callable[[bytes], bytes]   # the header hash input -> the bytes of b=
    public: str                      # base64, the p= of the DNS record
    bits: int                        # 256 for Ed25519
    signature_size: int              # bytes of a signature


def load_private(path: Path | None, algorithm: str, where: str) -> PrivateKey:
    """The key in `path` for `algorithm` ("rsa-sha256" or "ed25519-sha256")."""
    try:
        data = read_private(path, where, MAX_KEY_SIZE, "a private key")
    except PrivateFileError as e:
        raise KeyFileError(str(e)) from None
    if algorithm == "ed25519-sha256":
        return _ed25519_key(data, where)
    return _rsa_key(data, path, where)


def _rsa_key(data: bytes, path: Path | None, where: str) -> PrivateKey:
    try:
        private = serialization.load_pem_private_key(data.replace(b"\r\n", b"\n"), password=None)
    except TypeError:   # a passphrase: the relay starts unattended
        raise KeyFileError(f"{where}: the key is encrypted; write it without a passphrase: "
                           f"openssl pkey -in {path} -out plain.key") from None
    except (ValueError, UnsupportedAlgorithm):
        private = None
    if not isinstance(private, rsa.RSAPrivateKey):
        hint = ('; for an Ed25519 key set algorithm = "ed25519-sha256"'
                if _ed25519_private(data) is not None else
                "; make one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048")
        raise KeyFileError(f"{where}: not an RSA private key in PEM form{hint}")
    if private.key_size < MIN_RSA_BITS:
        raise KeyFileError(f"{where}: a {private.key_size}-bit RSA key is too short (receivers "
                           "ignore keys under 1024 bits); make a 2048-bit one")
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return PrivateKey(lambda data: private.sign(data, _PKCS1_V15, _SHA256),
                      base64.b64encode(public).decode(), private.key_size,
                      (private.key_size + 7) // 8)


def _ed25519_key(data: bytes, where: str) -> PrivateKey:
    private = _ed25519_private(data)
    if private is None:
        raise KeyFileError(f"{where}: not an Ed25519 private key (PEM, as `openssl genpkey "
                           "-algorithm ed25519` writes it)")
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    return PrivateKey(lambda data: private.sign(hashlib.sha256(data).digest()),
                      base64.b64encode(public).decode(), 256, 64)


def _ed25519_private(data: bytes) -> ed25519.Ed25519PrivateKey | None:
    """The key of an Ed25519 PEM, or of a bare base64 32-byte seed (dknewkey); None if neither."""
    if b"-----BEGIN" in data:
        try:
            private = serialization.load_pem_private_key(data.replace(b"\r\n", b"\n"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            return None
        return private if isinstance(private, ed25519.Ed25519PrivateKey) else None
    try:
        seed = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed) if len(seed) == 32 else None
