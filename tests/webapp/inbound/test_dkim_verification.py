"""DKIM on replies: a message without a signature passes, a signed one passes while it is as
signed, and one changed after signing, or signed by a key DNS does not have, is refused
with a reason; a DNS that does not answer is said to be one."""

from __future__ import annotations

import dkim

from tests.webapp.inbound.signing import SigningDomain
from webapp.inbound.dkim_verification import MAX_SIGNATURES, refusal

MESSAGE = (b"From: Ann <ann@example.org>\r\nTo: reply+abc@qa.example.test\r\n"
           b"Subject: Re: New answer\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
           b"Message-ID: <r1@example.org>\r\n\r\nUse a context manager.\r\n")


def no_dns(name, timeout=5.0):
    raise AssertionError(f"looked up {name!r}")


def test_a_message_without_a_signature_passes_and_asks_no_dns():
    assert refusal(MESSAGE, no_dns) is None


def test_a_signed_message_as_signed_passes():
    signer = SigningDomain()
    assert refusal(signer.sign(MESSAGE), signer.keys()) is None


def test_a_body_changed_after_signing_is_refused_naming_the_domain():
    signer = SigningDomain()
    changed = signer.sign(MESSAGE).replace(b"context manager", b"global variable")
    why = refusal(changed, signer.keys())
    assert why is not None and "example.org" in why and "changed" in why


def test_a_from_changed_after_signing_is_refused():
    signer = SigningDomain()
    changed = signer.sign(MESSAGE).replace(b"From: Ann <ann@", b"From: Bob <bob@")
    assert refusal(changed, signer.keys()) is not None


def test_a_signature_by_a_key_dns_does_not_publish_is_refused():
    signer, other = SigningDomain(), SigningDomain()
    assert refusal(signer.sign(MESSAGE), other.keys()) is not None
    assert refusal(signer.sign(MESSAGE), lambda name, timeout=5.0: None) is not None


def test_every_signature_must_verify_not_only_one():
    ours, theirs = SigningDomain(), SigningDomain("attacker.test")
    genuine = ours.sign(MESSAGE)
    forged = theirs.sign(genuine.replace(b"context manager", b"global variable"))
    both = {f"mail._domainkey.{d.domain}.".encode(): d.txt for d in (ours, theirs)}
    assert refusal(forged, lambda name, timeout=5.0: both.get(name)) is not None
    assert refusal(theirs.sign(genuine), lambda name, timeout=5.0: both.get(name)) is None


def test_a_dns_that_does_not_answer_is_named_in_the_reason():
    def silent(name, timeout=5.0):
        raise dkim.DnsTimeoutError("no answer")
    why = refusal(SigningDomain().sign(MESSAGE), silent)
    assert why is not None and "could not be looked up" in why


def test_too_many_signatures_are_refused_without_checking_them():
    signed = MESSAGE
    signer = SigningDomain()
    for _ in range(MAX_SIGNATURES + 1):
        signed = signer.sign(signed)
    assert "DKIM signatures" in refusal(signed, no_dns)
