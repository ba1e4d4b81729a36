"""relay.delivery.dsn: delivery status notices, built against hostile originals and sent by a real relay."""

from __future__ import annotations

import email
import logging
import time
from email import policy

import pytest

from relay.delivery.dsn import (
    EXPIRED_STATUS,
    HEADERS_LIMIT,
    SUBJECT,
    Failure,
    build_report,
    failures,
    why_not,
)
from relay.delivery.fate import Fate
from relay.queue.folders import BADMAIL
from relay.queue.history import History, Refusal
from spooler.envelope import ParsedMessage, UnsafeHeaderError, envelope_lines, parse_pickup
from spooler.pickup import PickupWriter
from tests.relay.relay_helpers import RunningRelay, files, relay_config, wait_until

SENDER = "alice@example.test"
REPORTER = "MAILER-DAEMON@relay.example.test"


def original(headers: str = "", *, sender: str = SENDER, to: tuple[str, ...] = ("gone@example.test",),
             body: str = "the secret body\r\n") -> bytes:
    """A pickup file as a person or cron writes one: no Auto-Submitted, no Precedence."""
    return envelope_lines(sender, list(to)) + (
        f"From: Alice <{SENDER}>\r\nTo: {', '.join(to)}\r\nSubject: Hello there\r\n"
        f"Message-ID: <m1@example.test>\r\n{headers}\r\n{body}").encode()


def report_of(message: ParsedMessage, failed: list[Failure], **options) -> email.message.EmailMessage:
    data = build_report(message, failed, queue_id="0123456789abcdef01234567", arrived=time.time() - 60,
                        report_from=REPORTER, now=time.time(), **options)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert data.isascii()   # 7-bit: any smart host takes it, 8BITMIME or not
    return email.message_from_bytes(data, policy=policy.default)


def parts(report) -> tuple[str, list, str]:
    """(the text part, the delivery-status blocks, the original's headers)."""
    text, status, headers = report.iter_parts()
    assert (text.get_content_type(), status.get_content_type(), headers.get_content_type()) == (
        "text/plain", "message/delivery-status", "text/rfc822-headers")
    return text.get_content(), status.get_payload(), headers.get_content()


REFUSED = Failure("gone@example.test", "5.1.1", "550 5.1.1 No such user", time.time())


# -- building ----------------------------------------------------------------------------------

def test_a_report_is_an_rfc_3464_multipart_report_to_the_sender():
    report = report_of(parse_pickup(original()), [REFUSED], remote_mta="smtp.example.test")
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert report["To"] == SENDER and report["Subject"] == SUBJECT
    assert report["From"].addresses[0].addr_spec == REPORTER
    assert report["Auto-Submitted"] == "auto-replied" and report["Message-ID"] and report["Date"]
    text, (per_message, per_recipient), headers = parts(report)
    assert "gone@example.test" in text and "550 5.1.1 No such user" in text
    assert per_message["Reporting-MTA"].startswith("dns; ") and per_message["Arrival-Date"]
    assert per_recipient["Final-Recipient"] == "rfc822; gone@example.test"
    assert per_recipient["Action"] == "failed" and per_recipient["Status"] == "5.1.1"
    assert per_recipient["Diagnostic-Code"] == "smtp; 550 5.1.1 No such user"
    assert per_recipient["Remote-MTA"] == "dns; smtp.example.test"
    assert "Subject: Hello there" in headers and "Message-ID: <m1@example.test>" in headers


def test_the_original_body_is_never_in_the_report():
    data = build_report(parse_pickup(original(body="password: hunter2\r\n")), [REFUSED],
                        queue_id="q", arrived=0.0, report_from=REPORTER, now=time.time())
    assert b"hunter2" not in data and b"aHVudGVyMg" not in data  # nor base64-encoded


def test_an_encoded_line_break_in_the_subject_adds_no_header_to_the_report():
    hostile = original().replace(b"Subject: Hello there",
                                 b"Subject: =?utf-8?q?hi=0D=0ABcc:_evil@example.test=0D=0A=0D=0Abody?=")
    report = report_of(parse_pickup(hostile), [REFUSED])
    assert report["Bcc"] is None and report["Subject"] == SUBJECT
    text, blocks, _headers = parts(report)
    assert "Subject: hi Bcc: evil@example.test body" in text   # one line in the text, inert
    assert len(blocks) == 2


def test_header_lines_that_look_like_mime_structure_stay_inside_their_part():
    hostile = original(
        "X-Trick: a\r\n --===============0000000000==\r\n"
        "Content-Type: message/delivery-status\r\nX-Two: \r\n\tFinal-Recipient: rfc822; x@evil.test\r\n")
    report = report_of(parse_pickup(hostile), [REFUSED])
    _text, blocks, headers = parts(report)
    assert [b["Final-Recipient"] for b in blocks[1:]] == ["rfc822; gone@example.test"]
    assert "Final-Recipient: rfc822; x@evil.test" in headers


def test_a_line_break_in_a_recipient_or_a_reply_stays_on_its_field_line():
    failed = [Failure("gone@example.test\r\nAction: delivered", "5.1.1",
                      "550-5.1.1 first line\n550 5.1.1 second\r\nStatus: 2.0.0", time.time())]
    _text, (_message, block), _headers = parts(report_of(parse_pickup(original()), failed))
    assert block.get_all("Action") == ["failed"] and block.get_all("Status") == ["5.1.1"]
    assert block["Final-Recipient"] == "rfc822; gone@example.test Action: delivered"
    assert block["Diagnostic-Code"].startswith("smtp; 550-5.1.1 first line 550 5.1.1 second")


def test_a_sender_that_is_not_a_bare_address_gets_no_report():
    message = ParsedMessage("alice@example.test\r\nBcc: evil@example.test", ("a@example.test",),
                            b"Subject: x\r\n\r\nbody\r\n")
    assert why_not(message, REPORTER) == "the sender is not an address"
    with pytest.raises(UnsafeHeaderError):
        build_report(message, [REFUSED], queue_id="q", arrived=0.0, report_from=REPORTER,
                     now=time.time())


def test_8bit_and_huge_headers_come_back_7bit_and_cut_at_a_field():
    huge = "".join(f"X-Filler-{n}: {'x' * 900}\r\n" for n in range(HEADERS_LIMIT // 900 + 10))
    message = parse_pickup(original("X-Name: Zoë Ünïcode\r\n" + huge))
    text, _blocks, headers = parts(report_of(message, [REFUSED]))
    assert "X-Name: Zoë Ünïcode" in headers
    assert len(headers.encode()) <= HEADERS_LIMIT and headers.endswith("x\r\n")
    assert "Only the first 50,000 bytes of the headers" in text


@pytest.mark.parametrize(("headers", "sender", "why"), [
    ("", "", "null sender"),
    ("Content-Type: Multipart/Report; report-type=delivery-status; boundary=b\r\n", SENDER,
     "itself a report"),
    ("AUTO-SUBMITTED: Auto-Generated\r\n", SENDER, "auto-submitted"),
    ("Auto-Submitted: auto-replied (vacation)\r\n", SENDER, "auto-submitted"),
    ("Auto-Submitted:\r\n", SENDER, "auto-submitted"),
    ("Precedence: bulk\r\n", SENDER, "Precedence: bulk"),
    ("Precedence: JUNK\r\n", SENDER, "Precedence: junk"),
    ("Precedence: list\r\n", SENDER, "Precedence: list"),
    ("", REPORTER.lower(), "own report address"),
])
def test_no_report_is_made_for(headers, sender, why):
    assert why in why_not(parse_pickup(original(headers, sender=sender)), REPORTER)


@pytest.mark.parametrize("headers", ["", "Auto-Submitted: no\r\n", "Auto-Submitted: No (a person)\r\n",
                                     "Precedence: first-class\r\n", "Content-Type: multipart/mixed; b=1\r\n"])
def test_a_report_may_be_made_for(headers):
    assert why_not(parse_pickup(original(headers)), REPORTER) is None


def test_failures_name_every_refusal_and_on_expiry_everyone_else_still_owed():
    now = time.time()
    history = History(now - 100, refused=[Refusal("a@example.test", "550 5.1.1 No such user", now - 50),
                                          Refusal("b@example.test", "554 Rejected", now - 40),
                                          Refusal("c@example.test", "550 4.2.2 Odd server", now - 30)])
    fate = Fate(BADMAIL, ("d@example.test", "a@example.test", "b@example.test", "c@example.test"),
                reason="expired: still undelivered; last reply: 451 4.3.0 Try later")
    found = failures(fate, history, {"d@example.test": "451 4.3.0 Try later"}, now)
    assert [(f.recipient, f.status, f.expired) for f in found] == [
        ("a@example.test", "5.1.1", False), ("b@example.test", "5.0.0", False),
        ("c@example.test", "5.0.0", False), ("d@example.test", EXPIRED_STATUS, True)]
    assert found[3].reply == "451 4.3.0 Try later"
    refused_only = Fate(BADMAIL, ("a@example.test",), reason="refused by the smart host ...")
    assert [f.recipient for f in failures(refused_only, history, {}, now)] == [
        "a@example.test", "b@example.test", "c@example.test"]


# -- a real relay ------------------------------------------------------------------------------

def drop(config, data: bytes) -> None:
    PickupWriter(config.pickup.dir).write_bytes(data)


NULL_SENDER = "<>"   # how aiosmtpd hands on MAIL FROM:<>


def reports(upstream) -> list:
    return [r for r in upstream.received if r.sender == NULL_SENDER]


def wait_for_badmail(config, count: int) -> None:
    wait_until(lambda: len(files(config.relay.queue_dir / BADMAIL, "*.bdr")) >= count,
               what=f"{count} message(s) in badmail")


def assert_nothing_left_to_send(config) -> None:
    """After the relay stopped (in-flight attempts finished): no report waits anywhere."""
    assert not files(config.pickup.dir)
    for folder in ("active", "deferred"):
        assert not files(config.relay.queue_dir / folder)


def test_reports_are_off_by_default(tmp_path, upstream):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    config = relay_config(tmp_path, upstream.port)
    assert config.relay.delivery_reports is False
    drop(config, original())
    with RunningRelay(config):
        wait_for_badmail(config, 1)
    assert_nothing_left_to_send(config)
    assert reports(upstream) == [] and NULL_SENDER not in upstream.mail_from


def test_a_refused_recipient_brings_the_sender_one_report_from_the_null_sender(tmp_path, upstream):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    config = relay_config(tmp_path, upstream.port, delivery_reports=True, report_from=REPORTER)
    drop(config, original(to=("ok@example.test", "gone@example.test")))
    with RunningRelay(config):
        wait_until(lambda: reports(upstream), what="the report at the smart host")
    [received] = reports(upstream)
    assert received.recipients == [SENDER]
    report = email.message_from_bytes(received.content, policy=policy.default)
    assert report["To"] == SENDER and report.get_content_type() == "multipart/report"
    text, (_message, block), headers = parts(report)
    assert "could not be delivered to 1 of its recipients; the other 1 received it" in text
    assert (block["Final-Recipient"], block["Action"], block["Status"]) == (
        "rfc822; gone@example.test", "failed", "5.1.1")
    assert "Message-ID: <m1@example.test>" in headers
    assert b"the secret body" not in received.content
    assert [r.recipients for r in upstream.received if r.sender == SENDER] == [["ok@example.test"]]
    assert_nothing_left_to_send(config)
    assert len(reports(upstream)) == 1


@pytest.mark.parametrize(("headers", "sender"), [
    ("", ""),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n", SENDER),
    ("Auto-Submitted: auto-generated\r\n", SENDER),
    ("Precedence: bulk\r\n", SENDER),
])
def test_a_relay_makes_no_report_for(tmp_path, upstream, caplog, headers, sender):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    config = relay_config(tmp_path, upstream.port, delivery_reports=True)
    drop(config, original(headers, sender=sender))
    with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config):
        wait_for_badmail(config, 1)
    assert_nothing_left_to_send(config)
    assert reports(upstream) == [] and len(files(config.relay.queue_dir / BADMAIL)) == 1
    assert "no delivery report" in caplog.text


def test_a_report_that_is_refused_itself_goes_to_badmail_and_makes_no_second(tmp_path, upstream,
                                                                             caplog):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    upstream.faults.rcpt_replies[SENDER] = "550 5.1.1 The sender has no mailbox either"
    config = relay_config(tmp_path, upstream.port, delivery_reports=True)
    drop(config, original())
    with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config):
        wait_for_badmail(config, 2)   # the message, then its report
    assert "no delivery report: the sender is the null sender <>" in caplog.text
    assert_nothing_left_to_send(config)
    assert len(files(config.relay.queue_dir / BADMAIL)) == 2 and upstream.received == []
    assert upstream.mail_from.count(NULL_SENDER) == 1   # the report was tried once, from <>, and that is all


def test_an_expired_message_is_reported_as_failed_with_status_4_4_7(tmp_path, upstream):
    upstream.faults.rcpt_replies["slow@example.test"] = "451 4.3.0 Try later"
    config = relay_config(tmp_path, upstream.port, delivery_reports=True, retry_schedule=["1s"],
                          max_lifetime="1s")
    drop(config, original(to=("slow@example.test",)))
    with RunningRelay(config):
        wait_until(lambda: reports(upstream), what="the expiry report")
    _text, (_message, block), _headers = parts(
        email.message_from_bytes(reports(upstream)[0].content, policy=policy.default))
    assert (block["Final-Recipient"], block["Action"], block["Status"]) == (
        "rfc822; slow@example.test", "failed", "4.4.7")
    assert block["Diagnostic-Code"] == "smtp; 451 4.3.0 Try later"


def test_a_report_that_cannot_be_written_is_logged_and_the_message_is_in_badmail(
        tmp_path, upstream, caplog):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    config = relay_config(tmp_path, upstream.port, delivery_reports=True)
    with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config) as relay:
        relay.exit.reports = PickupWriter(tmp_path / "no-such-folder")   # fails as a full disk would
        drop(config, original())
        wait_for_badmail(config, 1)
    assert len(files(config.relay.queue_dir / BADMAIL)) == 1
    assert "delivery report to <alice@example.test> not written" in caplog.text
    assert reports(upstream) == []


def test_a_delivery_report_placed_in_pickup_never_looks_truncated():
    expired = Failure("late@example.test", EXPIRED_STATUS, "expired after 2d", time.time(), True)
    data = build_report(parse_pickup(original()), [REFUSED, expired], queue_id="q",
                        arrived=0.0, report_from=REPORTER, now=time.time())
    parsed = parse_pickup(envelope_lines("", [SENDER]) + data)   # as the exit writes it
    assert parsed.recipients == (SENDER,) and b"multipart/report" in parsed.content
