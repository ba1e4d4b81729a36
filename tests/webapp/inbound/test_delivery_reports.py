"""Bounces in the shapes mail servers send them are read for the failed recipient, permanent
or temporary, the status and the server's words; complaints for their feedback type; anything
else reports nothing."""

from __future__ import annotations

import email
import email.policy

import pytest

from tests.webapp.inbound import samples
from webapp.inbound.delivery_reports import read_failure
from webapp.inbound.feedback_reports import read_complaint

ORIGINAL = samples.crlf(
    "From: Q&A <noreply@example.test>\nTo: Ann <ann@example.org>\nSubject: New answer: How?\n"
    f"Date: {samples.DATE}\nMessage-ID: <n1.2@qa.example.test>\nAuto-Submitted: auto-generated\n"
    "Precedence: bulk\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nUse a loop.\n")


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.parametrize(("shape", "status", "code", "words"), [
    (samples.postfix, "5.1.1", 550, "User unknown in local recipient table"),
    (samples.gmail, "5.1.1", 550, "The email account that you tried to reach does not exist"),
    (samples.exchange, "5.1.10", 550, "RESOLVER.ADR.RecipientNotFound"),
    (samples.exim, "5.1.1", 550, "550 5.1.1 User unknown"),
    (samples.qmail, "5.1.1", None, "Sorry, no mailbox here by that name. (#5.1.1)"),
    (samples.yahoo, None, 554, "This user doesn't have a yahoo.com account"),
])
def test_each_servers_bounce_names_the_address_and_why_it_failed_for_good(shape, status, code, words):
    failure = read_failure(parsed(shape(ORIGINAL, "ann@example.org")))
    assert failure.address == "ann@example.org" and failure.permanent
    assert (failure.status, failure.code) == (status, code)
    assert words in failure.reason


def test_a_delayed_report_is_a_temporary_failure_with_its_status():
    failure = read_failure(parsed(samples.postfix(
        ORIGINAL, "ann@example.org", status="4.2.2", action="delayed",
        diagnostic="smtp; 452 4.2.2 <ann@example.org>: Mailbox full")))
    assert not failure.permanent and failure.status == "4.2.2" and failure.code == 452
    assert failure.reason == "452 4.2.2 <ann@example.org>: Mailbox full"


def test_a_report_names_the_original_recipient_before_where_it_was_forwarded():
    failure = read_failure(parsed(samples.postfix(ORIGINAL, "annie@elsewhere.example",
                                                  original_recipient="ann@example.org")))
    assert failure.address == "ann@example.org"


def test_an_arf_report_is_a_complaint_and_not_a_bounce():
    raw = samples.arf(ORIGINAL, "bounces+x@bounce.example.test", "ann@example.org")
    complaint = read_complaint(parsed(raw))
    assert (complaint.feedback_type, complaint.user_agent) == ("abuse", "ExampleFBL/1.0")
    assert complaint.original_mail_from == "bounces+x@bounce.example.test"
    assert read_failure(parsed(raw)) is None
    assert read_complaint(parsed(samples.arf(ORIGINAL, "x@y.example", "a@b.example",
                                             feedback_type="not-spam"))) is None


@pytest.mark.parametrize("marker", ["Auto-Submitted: auto-replied", "Precedence: auto_reply",
                                    "X-Autoreply: yes", "Precedence: bulk"])
def test_out_of_office_replies_report_no_failure(marker):
    message = parsed(samples.out_of_office("ann@example.org", marker))
    assert read_failure(message) is None and read_complaint(message) is None
