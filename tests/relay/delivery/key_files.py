"""DKIM keys as `openssl genpkey` and dknewkey write them, placed as the relay reads them, and
the DNS answers that publish them: what a test passes to dkim.verify() as dnsfunc."""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

PKCS8 = {"encoding": serialization.Encoding.PEM, "format": serialization.PrivateFormat.PKCS8,
         "encryption_algorithm": serialization.NoEncryption()}


def rsa_pem(bits: int = 2048) -> bytes:
    """What `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:BITS` writes."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits).private_bytes(**PKCS8)


def ed25519_pem() -> bytes:
    """What `openssl genpkey -algorithm ed25519` writes."""
    return ed25519.Ed25519PrivateKey.generate().private_bytes(**PKCS8)


def ed25519_seed(pem: bytes) -> bytes:
    """The same key as dknewkey writes it (and dkimpy takes it): the base64 32-byte seed."""
    key = serialization.load_pem_private_key(pem, password=None)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return base64.b64encode(raw) + b"\n"


def key_file(tmp_path, name: str, pem: bytes, mode: int = 0o600):
    path = tmp_path / name
    path.write_bytes(pem)
    path.chmod(mode)
    return path


def published(*records: str):
    """A dnsfunc for dkim.verify() answering from `relay check`'s record lines."""
    answers = {}
    for record in records:
        name, _, strings = record.partition(" IN TXT ")
        answers[f"{name}.".encode()] = "".join(re.findall(r'"([^"]*)"', strings)).encode()
    return lambda name, timeout=5: answers.get(name)
