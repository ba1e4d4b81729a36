"""DKIM signing of outgoing mail: the keys, the choice of key by the From domain, the signature.

DkimSigner.load() reads every [relay.dkim] key_file once, at start, into an OpenSSL key
(relay.delivery.dkim_keys: owner-only file, RSA of at least 1024 bits or Ed25519), and
test-signs once so a key that cannot sign stops the start, not a delivery. sign() takes
a message's wire bytes (after parse_pickup's line-end rules, before dot-stuffing) and
prepends a DKIM-Signature (relaxed/relaxed, the configured headers that are present, From
signed once more so no second From can be added: relay.delivery.dkim_canon) made with the
key whose domain is the From address's domain or the nearest parent of it (DMARC
alignment); the bytes are those dkimpy makes for the same key and second. A From at no
configured domain goes out unsigned (Signed.unsigned says why); a From that names several
domains, one of them configured, a header line that is no field, or a signature OpenSSL
refuses raises SigningFailed: the caller defers the message, it is never sent unsigned.
dns_record() is the TXT record to publish (`relay check` prints it). Uses [relay.dkim]
domain, selector, key_file, algorithm, headers. Raises DkimSetupError (what is wrong, how
to fix it) when a key cannot be used.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
from dataclasses import dataclass
from email.utils import getaddresses
from typing import TYPE_CHECKING

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
from settings import DkimConfig
from spooler.envelope import ParsedMessage

if TYPE_CHECKING:
    from relay.delivery.dkim_keys import PrivateKey

_TXT_STRING = 255      # a DNS TXT record holds strings of at most 255 bytes each


class DkimSetupError(Exception):
    """A configured DKIM key cannot be used; the message says which and what to do."""


class SigningFailed(Exception):
    """Signing was asked for this message and could not be done; str() is the reason."""


@dataclass(frozen=True)
class SigningKey:
    config: DkimConfig
    private: PrivateKey  # loaded once into OpenSSL (relay.delivery.dkim_keys)

    @property
    def public(self) -> str:
        return self.private.public

    @property
    def bits(self) -> int:
        return self.private.bits

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
        template = fold(tags + b"A" * ((self.private.signature_size + 2) // 3 * 4) + b"\r\n")
        unsigned = template[:template.rindex(b"b=") + 2]
        data = (b"".join(relaxed_field(name, value) for name, value in select_fields(fields, names))
                + relaxed_field(b"DKIM-Signature", unsigned)[:-2])   # hashed without its CRLF
        signed = fold(tags + base64.b64encode(self.private.sign(data)) + b"\r\n")
        if not signed.startswith(unsigned):   # the b= tag moved: what was hashed is not what is sent
            raise ValueError("the folded signature differs from the one hashed")
        return b"DKIM-Signature: " + signed


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
    from relay.delivery.dkim_keys import KeyFileError, load_private  # OpenSSL: only to sign

    where = f"[relay.dkim] key_file {config.key_file} (domain {config.domain})"
    try:
        key = SigningKey(config, load_private(config.key_file, config.algorithm, where))
    except KeyFileError as e:
        raise DkimSetupError(str(e)) from None
    fields, body = split_message(f"From: test@{config.domain}\r\nSubject: key check\r\n\r\n"
                                 "body\r\n".encode())
    try:   # a key that cannot sign must stop the start, not the first delivery
        key.signature(fields, body, 0)
    except Exception as e:   # whatever OpenSSL says about it
        raise DkimSetupError(f"{where}: OpenSSL cannot sign with it: {e}") from None
    return key


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


def load_signer(configs: tuple[DkimConfig, ...]) -> DkimSigner | None:
    """The [relay.dkim] keys, read and checked (DkimSetupError says what is wrong with one);
    None when there are none. OpenSSL's key code (relay.delivery.dkim_keys) loads only then."""
    return DkimSigner.load(configs) if configs else None
