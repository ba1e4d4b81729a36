"""The notification builder: correct MIME, and no header injection through any value."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

import pytest

from spooler.envelope import UnsafeHeaderError, single_line
from spooler.message import Address, Notification, build

HOSTILE = [
    "Hi\r\nBcc: victim@example.org",
    "Hi\nBcc: victim@example.org",
    "Hi\rBcc: victim@example.org",
    "Hi\x00there",
    "Hi\u2028Bcc: victim@example.org",
    "Hi\x85Bcc: victim@example.org",
]


def make(**overrides) -> Notification:
    fields = dict(
        sender=Address("noreply@example.test", "Q&A"),
        to=[Address("bob@example.test", "Bob")],
        subject="New answer to “Why is the sky blue?”",
        text="Hello Bob,\n\nSomeone answered.\n",
        html="<p>Hello Bob,</p><p>Someone answered.</p>",
    )
    fields.update(overrides)
    return Notification(**fields)


def parsed(notification: Notification):
    # As a mail client on Unix reads a stored message: LF line ends.
    return message_from_bytes(build(notification).content.replace(b"\r\n", b"\n"),
                              policy=default)


def test_multipart_alternative_with_text_first_and_html_last():
    msg = parsed(make())
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert msg.get_body(("plain",)).get_content() == "Hello Bob,\n\nSomeone answered.\n"
    assert "Someone answered" in msg.get_body(("html",)).get_content()


def test_headers_a_mail_client_and_a_filter_need():
    msg = parsed(make(extra_headers={"List-Id": "Answers <answers.example.test>"}))
    assert msg["From"].addresses[0].addr_spec == "noreply@example.test"
    assert msg["To"].addresses[0].display_name == "Bob"
    assert msg["Subject"] == "New answer to “Why is the sky blue?”"
    assert msg["Message-ID"].endswith("@example.test>")
    assert msg["Date"].datetime is not None
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Id"] == "Answers <answers.example.test>"


def test_each_message_gets_its_own_message_id():
    assert parsed(make())["Message-ID"] != parsed(make())["Message-ID"]


def test_wire_bytes_use_crlf_and_short_lines():
    content = build(make(text="word " * 400, subject="long subject " * 20)).content
    assert b"\n" not in content.replace(b"\r\n", b"")
    assert max(len(line) for line in content.split(b"\r\n")) <= 78


def test_plain_text_only_message():
    msg = parsed(make(html=None))
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == "Hello Bob,\n\nSomeone answered.\n"


def test_non_ascii_display_name_and_body_round_trip():
    msg = parsed(make(to=[Address("zoe@example.test", 'Zoë "Z" Ünal, PhD')],
                      text="Grüße ☃\n"))
    assert msg["To"].addresses[0].display_name == 'Zoë "Z" Ünal, PhD'
    assert msg.get_body(("plain",)).get_content() == "Grüße ☃\n"
    assert build(make(text="Grüße ☃\n")).content.isascii()  # 7-bit safe on the wire


def test_builder_is_pickup_ready():
    message = build(make())
    assert message.sender == "noreply@example.test"
    assert message.recipients == ("bob@example.test",)


@pytest.mark.parametrize("value", HOSTILE)
def test_line_breaks_in_subject_are_refused(value):
    with pytest.raises(UnsafeHeaderError):
        build(make(subject=value))


@pytest.mark.parametrize("value", HOSTILE)
def test_line_breaks_in_display_name_are_refused(value):
    with pytest.raises(UnsafeHeaderError):
        build(make(to=[Address("bob@example.test", value)]))


@pytest.mark.parametrize("address", [
    "bob@example.test\r\nBcc: victim@example.org",
    "bob@example.test, victim@example.org",
    "Bob <bob@example.test>",
    "no-at-sign",
    "bob@exa mple.test",
])
def test_hostile_addresses_are_refused(address):
    with pytest.raises(UnsafeHeaderError):
        build(make(to=[Address(address)]))


@pytest.mark.parametrize("value", HOSTILE)
def test_line_breaks_in_extra_headers_are_refused(value):
    with pytest.raises(UnsafeHeaderError):
        build(make(extra_headers={"List-Id": value}))


def test_extra_headers_cannot_override_the_envelope_or_address_headers():
    for name in ("Bcc", "To", "X-Receiver", "Bad Name:", "X-Tag\n", "Bcc\n"):
        with pytest.raises(ValueError):
            build(make(extra_headers={name: "victim@example.org"}))


@pytest.mark.parametrize("value", HOSTILE)
def test_single_line_makes_user_text_safe_for_a_header(value):
    title = single_line(value)
    msg = parsed(make(subject=title))
    assert msg["Bcc"] is None
    assert msg["Subject"] == title
    assert "Hi" in title


def test_address_parse_reads_a_config_style_from():
    assert Address.parse("Q&A <noreply@example.test>") == Address("noreply@example.test", "Q&A")
    with pytest.raises(UnsafeHeaderError):
        Address.parse("Q&A <noreply@example.test>\nBcc: x@example.org")
