"""DMARC on replies: a From domain whose policy is quarantine or reject must have signed the
reply (relaxed alignment: a subdomain's signature counts), p=none or no record asks nothing
more, a subdomain falls under its organizational domain's sp, and a DNS that does not
answer refuses for now."""

from __future__ import annotations

import dkim

from webapp.inbound.dmarc import organizational_domain, policy, refusal


def records(table: dict[str, str]):
    """A TXT lookup answering from `table` (name without the final dot -> record)."""
    def lookup(name: bytes, timeout: float = 5.0) -> bytes | None:
        value = table.get(name.decode().rstrip("."))
        return None if value is None else value.encode()
    return lookup


STRICT = records({"_dmarc.strictmail.net": "v=DMARC1; p=reject; rua=mailto:d@strictmail.net",
                  "_dmarc.laxmail.net": "v=DMARC1; p=none",
                  "_dmarc.parentmail.net": "v=DMARC1; p=none; sp=quarantine",
                  "_dmarc.brokenmail.net": "v=spf1 -all"})


def test_policy_is_read_at_the_domain_then_at_its_organizational_domain():
    assert policy("strictmail.net", STRICT) == "reject"
    assert policy("laxmail.net", STRICT) == "none"
    assert policy("mail.parentmail.net", STRICT) == "quarantine"   # sp covers the subdomains
    assert policy("parentmail.net", STRICT) == "none"
    assert policy("nowhere-mail.net", STRICT) is None
    assert policy("brokenmail.net", STRICT) is None                # not a DMARC record: as none


def test_the_names_of_tests_and_documentation_are_never_looked_up():
    def no_dns(name, timeout=5.0):
        raise AssertionError(f"looked up {name!r}")
    for domain in ("example.org", "mail.example.com", "example.test", "site.invalid"):
        assert policy(domain, no_dns) is None and refusal(domain, (), no_dns) is None


def test_organizational_domains_follow_the_public_suffix_list():
    assert organizational_domain("mx.mail.yahoo.co.uk") == "yahoo.co.uk"
    assert organizational_domain("Mail.Example.ORG.") == "example.org"


def test_a_strict_domain_must_have_signed_the_reply():
    why = refusal("strictmail.net", (), STRICT)
    assert why is not None and "strictmail.net asks that mail it did not sign be refused" in why
    assert refusal("strictmail.net", ("othermail.net",), STRICT) is not None   # someone else's signature
    assert refusal("strictmail.net", ("strictmail.net",), STRICT) is None
    assert refusal("strictmail.net", ("s1024.mail.strictmail.net",), STRICT) is None   # relaxed alignment


def test_a_lax_domain_or_none_at_all_asks_no_signature():
    assert refusal("laxmail.net", (), STRICT) is None
    assert refusal("nowhere-mail.net", (), STRICT) is None
    assert refusal("mail.parentmail.net", (), STRICT) is not None


def test_a_dns_that_does_not_answer_refuses_for_now():
    def silent(name, timeout=5.0):
        raise dkim.DnsTimeoutError("no answer")
    why = refusal("strictmail.net", (), silent)
    assert "could not be looked up in DNS in time" in why and "again later" in why
    assert refusal("strictmail.net", ("strictmail.net",), silent) is None   # aligned: nothing to ask
