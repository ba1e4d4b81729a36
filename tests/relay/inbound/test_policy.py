"""relay/inbound/policy.py: which recipients are ours (never an open relay), which senders the
drop file holds, the size rule, and each refusal in SMTP's and sendmail's words."""

from __future__ import annotations

import os

import pytest

from relay.inbound.policy import content_refusal, recipient_refusal, sender_refusal, size_refusal

DOMAINS = frozenset({"ours.test", "example.org"})


@pytest.mark.parametrize("address", ["a@ours.test", "bounces+t0k3n@ours.test", "A.B@OURS.TEST",
                                     "reply+x_y-z.1@Example.Org", "ünïcode@ours.test"])
def test_a_plain_address_at_one_of_the_domains_is_ours_in_any_case(address):
    assert recipient_refusal(address, DOMAINS) is None


@pytest.mark.parametrize("address", [
    "a@other.test", "a@evil-ours.test", "a@ours.test.evil.test", "a@sub.ours.test", "a@ours.tes",
    "a@ours.test.", "a%other.test@ours.test", "other.test!a@ours.test", "a@[127.0.0.1]",
    "a@ours.test@other.test"])
def test_anything_else_is_relaying_and_refused(address):
    refusal = recipient_refusal(address, DOMAINS)
    assert refusal is not None and refusal.code in (550, 553)
    assert refusal.exit_code == os.EX_NOUSER


def test_relaying_is_550_5_7_1_and_a_quoted_or_double_at_address_553_5_1_3():
    assert recipient_refusal("a@other.test", DOMAINS).reply == \
        "550 5.7.1 <a@other.test>: relay not permitted"
    for address in ('"a@other.test"@ours.test', "a@other.test@ours.test", "a b@ours.test"):
        assert recipient_refusal(address, DOMAINS).reply.startswith("553 5.1.3 ")


def test_no_domains_take_nothing():
    assert recipient_refusal("a@ours.test", frozenset()).code == 550


def test_the_null_sender_and_plain_addresses_are_held_anything_else_is_553_5_1_7():
    assert sender_refusal("") is None and sender_refusal("MAILER-DAEMON@mx.other.test") is None
    refusal = sender_refusal('"john doe"@other.test')
    assert refusal.reply.startswith("553 5.1.7 ") and refusal.exit_code == os.EX_DATAERR


def test_size_up_to_the_limit_is_taken_one_byte_over_is_552_and_exit_65():
    assert size_refusal(1000, 1000) is None
    refusal = size_refusal(1001, 1000)
    assert refusal.reply == "552 5.3.4 message larger than the 1,000-byte limit"
    assert refusal.exit_code == os.EX_DATAERR


def test_content_the_site_could_not_read_is_554_5_6_0_and_exit_65():
    head = b"X-Sender: <>\r\nX-Receiver: <a@ours.test>\r\n"
    assert content_refusal(head + b"Subject: x\r\n\r\nbody\r\n") is None
    for content, why in ((b"Subject: x\r\n\r\nnul \0 here\r\n", "NUL"),
                         (b"not a header line\r\n\r\nbody\r\n", "not a header"),
                         (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart\r\n",
                          "looks truncated")):
        refusal = content_refusal(head + content)
        assert refusal.code == 554 and refusal.status == "5.6.0" and why in refusal.text
        assert refusal.exit_code == os.EX_DATAERR
