"""DKIM on a member's reply: every DKIM-Signature the message carries must verify (dkimpy), or
the reply is not posted.

A message without a signature passes: the reply's token and its From are what admit it, and
most providers (Gmail, Outlook.com, Yahoo, iCloud, Fastmail) sign all their mail, so a
signature that is there and fails is the sign of a message changed on its way or not sent
by the provider it names. Every signature must verify, not one of them: otherwise a copy of
a member's real, signed reply with a changed body could be admitted by adding a good
signature of one's own domain. At most MAX_SIGNATURES are checked; a message with more is
refused.

The public keys come from DNS through a KeyLookup, dkimpy's `dnsfunc` (name, timeout) ->
TXT record or None: in production dns_txt(), a dnspython lookup (a DNS that fails is an
error, not "no record"), bounded by DNS_TIMEOUT seconds a query, so a silent DNS server
cannot hang the inbound worker; tests pass a table. refusal() never raises: what dkimpy
raises becomes the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dkim
import dns.exception
import dns.rdatatype
import dns.resolver

DNS_TIMEOUT = 5.0     # seconds for one key lookup, all tries included (dnspython's lifetime)
MAX_SIGNATURES = 5

KeyLookup = Callable[..., bytes | None]   # dnsfunc(name: bytes, timeout: float) -> TXT or None


def dns_txt(name: bytes, timeout: float = DNS_TIMEOUT,
            resolver: dns.resolver.Resolver | None = None) -> bytes | None:
    """The TXT record at `name`, asked of DNS within `timeout`; None when the name or the
    record does not exist. Of several TXT records, the one that says what it is (v=DMARC1 at
    a _dmarc. name, v=DKIM1 elsewhere), else the first. A DNS that answers with a failure
    (SERVFAIL, REFUSED) or not at all raises dkim.DnsTimeoutError: not knowing a key or a
    policy is not the same as there being none."""
    resolver = resolver or dns.resolver.get_default_resolver()
    try:
        answer = resolver.resolve(name.decode("ascii", "replace"), "TXT", search=False,
                                  raise_on_no_answer=False, lifetime=min(timeout, DNS_TIMEOUT))
    except dns.resolver.NXDOMAIN:
        return None
    except (dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration,
            dns.exception.Timeout) as e:
        raise dkim.DnsTimeoutError(f"{type(e).__name__}: {e}") from None
    records = [b"".join(txt.strings) for rrset in answer.response.answer
               if rrset.rdtype == dns.rdatatype.TXT for txt in rrset]
    kind = b"v=dmarc1" if name.lower().startswith(b"_dmarc.") else b"v=dkim1"
    return next((r for r in records if r.lower().startswith(kind)), records[0] if records else None)


class _Lookups:
    """A KeyLookup that remembers whether DNS failed to answer (dkimpy only says "fails")."""

    def __init__(self, lookup: KeyLookup):
        self.lookup = lookup
        self.timed_out = False

    def __call__(self, name: bytes, timeout: float = DNS_TIMEOUT) -> bytes | None:
        try:
            return self.lookup(name, timeout=timeout)
        except dkim.DnsTimeoutError:
            self.timed_out = True
            raise


@dataclass(frozen=True)
class Verification:
    refusal: str | None                # None: no signature, or every one verified
    signers: tuple[str, ...] = ()      # the d= domains whose signatures verified (webapp.inbound.dmarc)


def refusal(content: bytes, lookup: KeyLookup = dns_txt) -> str | None:
    """None when `content` carries no DKIM signature or every one verifies; else why not, in
    words for the member."""
    return verify(content, lookup).refusal


def verify(content: bytes, lookup: KeyLookup = dns_txt) -> Verification:
    """Every DKIM signature of `content` checked: why the reply is refused, or who signed it."""
    try:
        verifier = dkim.DKIM(content, timeout=DNS_TIMEOUT)
    except dkim.DKIMException as e:
        return Verification(f"Its DKIM signature could not be read ({e}).")
    count = sum(1 for name, _value in verifier.headers if name.lower() == b"dkim-signature")
    if count > MAX_SIGNATURES:
        return Verification(f"It carries {count} DKIM signatures; at most {MAX_SIGNATURES} are checked.")
    lookups = _Lookups(lookup)
    signers = []
    for index in range(count):
        verifier.domain = None
        try:
            good = verifier.verify(idx=index, dnsfunc=lookups)
        except dkim.ValidationError:   # a body hash that does not match: changed after signing
            return Verification(_failed(verifier.domain, lookups.timed_out))
        except dkim.DKIMException as e:   # a malformed or expired signature, a key too small
            return Verification(f"Its DKIM signature does not verify ({e}).")
        if not good:
            return Verification(_failed(verifier.domain, lookups.timed_out))
        signers.append(verifier.domain.decode("ascii", "replace").lower())
    return Verification(None, tuple(signers))


def _failed(domain: bytes | None, timed_out: bool) -> str:
    signer = domain.decode("ascii", "replace") if domain else "an unnamed domain"
    if timed_out:
        return (f"The key of its DKIM signature (from {signer}) could not be looked up in DNS in "
                "time. Send it again later.")
    return (f"Its DKIM signature (from {signer}) does not verify: the message was changed after "
            "it was signed, or was not sent by that domain's mail servers.")
