"""DKIM signing of outgoing mail: the keys, the choice of key by the From domain, the signature.

DkimSigner.load() reads every [relay.dkim] key_file once, at start: a regular file
readable and writable by its owner only (anything more is refused, not read), a PEM
private key (RSA, PKCS#1 or PKCS#8; Ed25519, PKCS#8 as `openssl genpkey` writes it,
or the bare base64 seed dknewkey writes), test-signed once so a key dkimpy cannot use
stops the start, not a delivery. sign() takes a message's wire bytes (after
parse_pickup's line-end rules, before dot-stuffing) and prepends a DKIM-Signature
made by dkimpy (relaxed/relaxed, the configured headers that are present, From signed
once more so no second From can be added) with the key whose domain is the From
address's domain or the nearest parent of it (DMARC alignment). A From at no
configured domain goes out unsigned (Signed.unsigned says why); a From that names
several domains, one of them configured, or anything dkimpy refuses raises
SigningFailed: the caller defers the message, it is never sent unsigned.
dns_record() is the TXT record to publish (`relay check` prints it). Uses [relay.dkim]
domain, selector, key_file, algorithm, headers. Raises DkimSetupError (what is wrong,
how to fix it) when a key cannot be used.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import re
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from relay.smtp.credentials import PrivateFileError, read_private
from settings import DkimConfig
from spooler.envelope import ParsedMessage

MAX_KEY_SIZE = 65536   # a PEM key is a few KB
MIN_RSA_BITS = 1024    # receivers ignore shorter keys (RFC 8301)
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)
_ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")   # then the 32-byte seed
_RSA_ALGORITHM_ID = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL
_TXT_STRING = 255      # a DNS TXT record holds strings of at most 255 bytes each
_quiet = logging.getLogger("relay.dkimpy")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


class DkimSetupError(Exception):
    """A configured DKIM key cannot be used; the message says which and what to do."""


class SigningFailed(Exception):
    """Signing was asked for this message and could not be done; str() is the reason."""


@dataclass(frozen=True)
class SigningKey:
    config: DkimConfig
    private: bytes       # as dkimpy takes it: the PEM (RSA) or the base64 seed (Ed25519)
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

    def sign(self, message: ParsedMessage) -> Signed:
        if not self.keys:
            return Signed(message, None, "no [relay.dkim] configured")
        try:
            signer = dkim.DKIM(message.content, logger=_quiet, linesep=b"\r\n")
        except Exception as e:   # as below: a message that cannot be signed is deferred
            raise SigningFailed(f"DKIM: dkimpy cannot read the message: {e}") from None
        domains = _from_domains(signer.headers)
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
        present = {name.decode("ascii", "replace").lower() for name, _value in signer.headers}
        include = [h.lower() for h in key.config.headers if h.lower() in present] + ["from"]
        try:
            signature = signer.sign(key.config.selector.encode(), key.config.domain.encode(),
                                    key.private, signature_algorithm=key.config.algorithm.encode(),
                                    canonicalize=(b"relaxed", b"relaxed"),
                                    include_headers=[h.encode() for h in include])
        except Exception as e:   # dkimpy's errors and any it did not foresee: never sent unsigned
            raise SigningFailed(f"DKIM: cannot sign for {key.config.domain}: {e}") from None
        return Signed(dataclasses.replace(message, content=signature + message.content),
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
    path = config.key_file
    where = f"[relay.dkim] key_file {path} (domain {config.domain})"
    data = _read_private(path, where)
    if config.algorithm == "ed25519-sha256":
        key = _ed25519_key(config, data, where)
    else:
        key = _rsa_key(config, data, where)
    probe = (f"From: test@{config.domain}\r\nSubject: key check\r\n\r\nbody\r\n").encode()
    try:   # a key dkimpy cannot use must stop the start, not the first delivery
        dkim.sign(probe, config.selector.encode(), config.domain.encode(), key.private,
                  signature_algorithm=config.algorithm.encode(), logger=_quiet)
    except (dkim.DKIMException, ValueError) as e:
        raise DkimSetupError(f"{where}: dkimpy cannot sign with it: {e}") from None
    return key


def _read_private(path: Path | None, where: str) -> bytes:
    try:
        return read_private(path, where, MAX_KEY_SIZE, "a private key")
    except PrivateFileError as e:
        raise DkimSetupError(str(e)) from None


def _rsa_key(config: DkimConfig, data: bytes, where: str) -> SigningKey:
    pem = data.replace(b"\r\n", b"\n")
    try:
        parsed = parse_pem_private_key(pem)
    except (UnparsableKeyError, ValueError, IndexError, binascii.Error):
        hint = ('; for an Ed25519 key set algorithm = "ed25519-sha256"'
                if _ed25519_seed(data) is not None else
                "; make one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048")
        raise DkimSetupError(f"{where}: not an RSA private key in PEM form{hint}") from None
    n, e = parsed["modulus"], parsed["publicExponent"]
    if n.bit_length() < MIN_RSA_BITS:
        raise DkimSetupError(f"{where}: a {n.bit_length()}-bit RSA key is too short (receivers "
                             "ignore keys under 1024 bits); make a 2048-bit one")
    rsa_public = _der(0x30, _der_int(n) + _der_int(e))
    spki = _der(0x30, _RSA_ALGORITHM_ID + _der(0x03, b"\0" + rsa_public))
    return SigningKey(config, pem, base64.b64encode(spki).decode(), n.bit_length())


def _ed25519_key(config: DkimConfig, data: bytes, where: str) -> SigningKey:
    seed = _ed25519_seed(data)
    if seed is None:
        raise DkimSetupError(f"{where}: not an Ed25519 private key (PEM, as `openssl genpkey "
                             "-algorithm ed25519` writes it)")
    try:
        import nacl.signing
    except ImportError:
        raise DkimSetupError(f"{where}: Ed25519 signing needs PyNaCl: pip install PyNaCl") from None
    public = nacl.signing.SigningKey(seed).verify_key.encode()
    return SigningKey(config, base64.b64encode(seed), base64.b64encode(public).decode(), 256)


def _ed25519_seed(data: bytes) -> bytes | None:
    """The 32-byte seed of a PKCS#8 Ed25519 PEM, or of a bare base64 seed; None if neither."""
    m = _PEM.search(data)
    try:
        raw = base64.b64decode(m.group(2) if m else data.strip(), validate=False)
    except (binascii.Error, ValueError):
        return None
    if m and m.group(1) == b"PRIVATE KEY" and len(raw) == 48 and raw.startswith(_ED25519_PKCS8):
        return raw[16:]
    if not m and len(raw) == 32:
        return raw
    return None


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _from_domains(headers: list) -> list[str]:
    """The domains of the From addresses, lowercase, IDNs in their xn-- form, in order."""
    values = [value.decode("utf-8", "replace") for name, value in headers if name.lower() == b"from"]
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
