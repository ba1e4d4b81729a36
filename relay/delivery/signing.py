"""DKIM signing of outgoing mail: the keys, the choice of key by the From domain, the signature.

DkimSigner.load() reads every [relay.dkim] key_file once, at start: a regular file
readable and writable by its owner only (anything more is refused, not read), a PEM
private key (RSA of at least MIN_RSA_BITS, PKCS#1 or PKCS#8, no passphrase; Ed25519,
PKCS#8 as `openssl genpkey` writes it, or the bare base64 seed dknewkey writes), loaded
once into an OpenSSL key (cryptography) and test-signed once so a key that cannot sign
stops the start, not a delivery. sign() takes a message's wire bytes (after parse_pickup's
line-end rules, before dot-stuffing) and prepends a DKIM-Signature (relaxed/relaxed, the
configured headers that are present, From signed once more so no second From can be
added; relay.delivery.dkim_canon) with the key whose domain is the From address's domain
or the nearest parent of it (DMARC alignment): RSA-SHA256 (PKCS#1 v1.5) or Ed25519 over
the SHA-256 of the header hash input (RFC 8463). A From at no configured domain goes out
unsigned (Signed.unsigned says why); a From that names several domains, one of them
configured, a header that cannot be read, or a signature that fails raises SigningFailed:
the caller defers the message, it is never sent unsigned. dns_record() is the TXT record
to publish (`relay check` prints it). Uses [relay.dkim] domain, selector, key_file,
algorithm, headers. Raises DkimSetupError (what is wrong, how to fix it) when a key
cannot be used.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import time
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from relay.delivery.dkim_canon import (
    Field,
    UnreadableHeader,
    fold,
    names_to_sign,
    relaxed_body,
    relaxed_field,
    select_fields,
    split_message,
)
from relay.smtp.credentials import PrivateFileError, read_private
from settings import DkimConfig
from spooler.envelope import ParsedMessage

MAX_KEY_SIZE = 65536   # a PEM key is a few KB
MIN_RSA_BITS = 1024    # receivers ignore shorter keys (RFC 8301)
_TXT_STRING = 255      # a DNS TXT record holds strings of at most 255 bytes each
_PKCS1_V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_DER, _SPKI = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class DkimSetupError(Exception):
    """A configured DKIM key cannot be used; the message says which and what to do."""


class SigningFailed(Exception):
    """Signing was asked for this message and could not be done; str() is the reason."""


@dataclass(frozen=True)
class SigningKey:
    config: DkimConfig
    private: PrivateKey  # loaded once; OpenSSL signs with it
    public: str          # base64, the p= of the DNS record
    bits: int            # 256 for Ed25519

    @property
    def kind(self) -> str:
        return "ed25519" if self.config.algorithm == "ed25519-sha256" else "rsa"

    def dns_record(self) -> str:
        """`selector._domainkey.domain IN TXT "v=DKIM1; k=rsa; p=..."` (split in 255-byte strings)."""
        value = f"v=DKIM1; k={self.kind}; p={self.public}"
        strings = " ".join(f'"{value[i:i + _TXT_STRING]}"' for i in range(0, len(value), _TXT_STRING))
        return f"{self.config.selector}._domainkey.{self.config.domain} IN TXT {strings}"

    def describe(self) -> str:
        return f"{self.config.key_file}: {self.kind} key, {self.bits} bits, readable by its owner only"

    def signature(self, fields: list[Field], body: bytes, timestamp: int) -> bytes:
        """The `DKIM-Signature: ...\\r\\n` field for a message's header fields and body."""
        names = names_to_sign(self.config.headers, fields)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        domain, selector = self.config.domain.encode(), self.config.selector.encode()
        tags = (b"v=1; a=" + self.config.algorithm.encode() + b"; c=relaxed/relaxed; d=" + domain
                + b"; i=@" + domain + b"; q=dns/txt; s=" + selector + b"; t=%d; h=" % timestamp
                + b" : ".join(names) + b"; bh=" + body_hash + b"; b=")
        # The header hashes as it will be folded: b= cut the same at any value of its length.
        template = fold(tags + b"A" * self._b64_length + b"\r\n")
        unsigned = template[:template.rindex(b"b=") + 2]
        data = (b"".join(relaxed_field(name, value) for name, value in select_fields(fields, names))
                + relaxed_field(b"DKIM-Signature", unsigned)[:-2])   # hashed without its CRLF
        signed = fold(tags + base64.b64encode(self._sign(data)) + b"\r\n")
        if not signed.startswith(unsigned):   # the b= tag moved: what was hashed is not what is sent
            raise ValueError("the folded signature differs from the one hashed")
        return b"DKIM-Signature: " + signed

    @property
    def _b64_length(self) -> int:
        size = 64 if self.kind == "ed25519" else (self.bits + 7) // 8
        return (size + 2) // 3 * 4

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.sign(data, _PKCS1_V15, _SHA256)
        return self.private.sign(hashlib.sha256(data).digest())   # RFC 8463: Ed25519 of the hash


@dataclass(frozen=True)
class Signed:
    message: ParsedMessage    # with the DKIM-Signature on top when signed
    domain: str | None        # d= of the signature; None: sent unsigned
    unsigned: str = ""        # why it was not signed


class DkimSigner:
    """The loaded keys; sign() picks one by the From domain."""

    def __init__(self, keys: list[SigningKey]):
        self.keys = {k.config.domain: k for k in keys}

    @classmethod
    def load(cls, configs: tuple[DkimConfig, ...] | list[DkimConfig]) -> DkimSigner:
        return cls([load_key(c) for c in configs])

    def __bool__(self) -> bool:
        return bool(self.keys)

    def sign(self, message: ParsedMessage, now: float | None = None) -> Signed:
        """`message` signed at `now` (t=; default the clock), or why it goes out unsigned."""
        if not self.keys:
            return Signed(message, None, "no [relay.dkim] configured")
        try:
            fields, body = split_message(message.content)
        except UnreadableHeader as e:
            raise SigningFailed(f"DKIM: cannot read the message's header: {e}") from None
        domains = _from_domains(fields)
        if not domains:
            return Signed(message, None, "no address in From to choose a DKIM domain by")
        keys = {d: self.key_for(d) for d in domains}
        chosen = [k for k in keys.values() if k is not None]
        if not chosen:
            return Signed(message, None, f"no [relay.dkim] domain for the From domain "
                                         f"{', '.join(domains)}")
        if len(domains) > 1:
            raise SigningFailed(f"DKIM: From has addresses at {', '.join(domains)}: one signature "
                                "cannot align with all of them (DMARC); send it with one From domain")
        key = chosen[0]
        try:
            header = key.signature(fields, body, int(time.time() if now is None else now))
        except Exception as e:   # OpenSSL's errors and any not foreseen: never sent unsigned
            raise SigningFailed(f"DKIM: cannot sign for {key.config.domain}: {e}") from None
        return Signed(dataclasses.replace(message, content=header + message.content),
                      key.config.domain)

    def key_for(self, domain: str) -> SigningKey | None:
        """The key for `domain`, else for its nearest configured parent (relaxed alignment)."""
        labels = domain.split(".")
        for n in range(len(labels) - 1):
            key = self.keys.get(".".join(labels[n:]))
            if key is not None:
                return key
        return None


def load_key(config: DkimConfig) -> SigningKey:
    """Read and check one key_file; raises DkimSetupError saying what to fix."""
    where = f"[relay.dkim] key_file {config.key_file} (domain {config.domain})"
    data = _read_private(config.key_file, where)
    key = _ed25519_key(config, data, where) if config.algorithm == "ed25519-sha256" else \
        _rsa_key(config, data, where)
    probe = (f"From: test@{config.domain}\r\nSubject: key check\r\n\r\nbody\r\n").encode()
    try:   # a key that cannot sign must stop the start, not the first delivery
        fields, body = split_message(probe)
        key.signature(fields, body, 0)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise DkimSetupError(f"{where}: OpenSSL cannot sign with it: {e}") from None
    return key


def _read_private(path: Path | None, where: str) -> bytes:
    try:
        return read_private(path, where, MAX_KEY_SIZE, "a private key")
    except PrivateFileError as e:
        raise DkimSetupError(str(e)) from None


def _rsa_key(config: DkimConfig, data: bytes, where: str) -> SigningKey:
    try:
        private = serialization.load_pem_private_key(data.replace(b"\r\n", b"\n"), password=None)
    except TypeError:   # a passphrase: the relay starts unattended
        raise DkimSetupError(f"{where}: the key is encrypted; write it without a passphrase: "
                             f"openssl pkey -in {config.key_file} -out plain.key") from None
    except (ValueError, UnsupportedAlgorithm):
        private = None
    if not isinstance(private, rsa.RSAPrivateKey):
        hint = ('; for an Ed25519 key set algorithm = "ed25519-sha256"'
                if _ed25519_private(data) is not None else
                "; make one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048")
        raise DkimSetupError(f"{where}: not an RSA private key in PEM form{hint}")
    if private.key_size < MIN_RSA_BITS:
        raise DkimSetupError(f"{where}: a {private.key_size}-bit RSA key is too short (receivers "
                             "ignore keys under 1024 bits); make a 2048-bit one")
    public = private.public_key().public_bytes(_DER, _SPKI)
    return SigningKey(config, private, base64.b64encode(public).decode(), private.key_size)


def _ed25519_key(config: DkimConfig, data: bytes, where: str) -> SigningKey:
    private = _ed25519_private(data)
    if private is None:
        raise DkimSetupError(f"{where}: not an Ed25519 private key (PEM, as `openssl genpkey "
                             "-algorithm ed25519` writes it)")
    public = private.public_key().public_bytes(*_RAW)
    return SigningKey(config, private, base64.b64encode(public).decode(), 256)


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


def _from_domains(fields: list[Field]) -> list[str]:
    """The domains of the From addresses, lowercase, IDNs in their xn-- form, in order."""
    values = [value.decode("utf-8", "replace") for name, value in fields if name.lower() == b"from"]
    domains = []
    for _display, address in getaddresses(values):
        local, at, domain = address.rpartition("@")
        if at and local and domain:
            domains.append(_ascii_domain(domain.strip().rstrip(".").lower()))
    return list(dict.fromkeys(domains))


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain
