"""The From domain's own DMARC policy (RFC 7489), applied to a member's reply through its DKIM
signatures.

A domain that publishes p=quarantine or p=reject asks receivers to refuse mail that does not
authenticate as its own. Replies from such a domain are posted only when one of the DKIM
signatures that verified (webapp.inbound.dkim_verification) is aligned with the From domain
in DMARC's relaxed mode: the signer's organizational domain is the From's (the Public Suffix
List, through publicsuffixlist). SPF is not checked: the site reads a file, not a connection,
and an MTA or a forwarder may stand between the member's provider and `relay receive`; the
big providers with a strict policy sign every message. p=none, no record, or an unreadable
one: nothing more is asked than the signatures' verifying.

The record is looked up (never for the special-use names of tests and documentation, such as
example.org or *.test) at _dmarc.<From domain>, then at _dmarc.<organizational domain>, whose
`sp` (else `p`) covers its subdomains, through the same TXT lookup as the DKIM keys, bounded
by its timeout. A DNS that does not answer refuses the reply for now (the member is told to
send it again later): not knowing the policy is not permission.
"""

from __future__ import annotations

from functools import cache

import dkim
from publicsuffixlist import PublicSuffixList

from webapp.inbound.dkim_verification import DNS_TIMEOUT, KeyLookup

STRICT = ("quarantine", "reject")
# Names for tests and documentation (RFC 2606, RFC 6761): no member's real mail comes from
# them, so no DNS is asked about them (a local run and the tests work offline).
SPECIAL_USE = ("test", "example", "invalid", "localhost", "example.com", "example.net", "example.org")


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()   # the list shipped with the package: no download


def organizational_domain(domain: str) -> str:
    """The registered domain `domain` belongs to (example.org for mail.example.org)."""
    domain = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(domain) or domain


def policy(domain: str, lookup: KeyLookup) -> str | None:
    """The DMARC policy ("none", "quarantine", "reject") that covers mail From `domain`, or None
    when no record does; dkim.DnsTimeoutError when DNS does not answer."""
    domain = domain.lower().rstrip(".")
    if any(domain == name or domain.endswith(f".{name}") for name in SPECIAL_USE):
        return None
    tags = _record(domain, lookup)
    if tags is not None:
        return tags.get("p")
    organizational = organizational_domain(domain)
    if organizational == domain:
        return None
    tags = _record(organizational, lookup)
    return None if tags is None else tags.get("sp", tags.get("p"))


def _record(domain: str, lookup: KeyLookup) -> dict[str, str] | None:
    """The tags of the DMARC record at _dmarc.`domain`, or None without one (or with one that
    is not a DMARC record: RFC 7489 6.6.3 says to act as if there were none)."""
    txt = lookup(f"_dmarc.{domain}.".encode(), timeout=DNS_TIMEOUT)
    if not txt:
        return None
    text = txt.decode("ascii", "replace") if isinstance(txt, bytes) else str(txt)
    tags = {}
    for part in text.split(";"):
        key, _eq, value = part.partition("=")
        if key.strip():
            tags[key.strip().lower()] = value.strip().lower()
    if tags.get("v") != "dmarc1" or tags.get("p", "none") not in ("none", *STRICT):
        return None
    return tags


def refusal(from_domain: str, signers: tuple[str, ...], lookup: KeyLookup) -> str | None:
    """None when the reply may be posted as far as `from_domain`'s DMARC policy goes, given the
    domains whose signatures verified (`signers`); else why not, in words for the member."""
    organizational = organizational_domain(from_domain)
    if any(organizational_domain(signer) == organizational for signer in signers):
        return None
    try:
        required = policy(from_domain, lookup)
    except dkim.DnsTimeoutError:
        return (f"The mail policy of {from_domain} could not be looked up in DNS in time. "
                "Send it again later.")
    if required not in STRICT:
        return None
    return (f"{from_domain} asks that mail it did not sign be refused (its DMARC policy), and "
            "this reply carries no signature of it that verifies. Reply from your mail "
            "provider's own servers, or post on the site.")
