"""Reading pickup files: the envelope both ways, what is stripped, what is refused and why."""

from __future__ import annotations

import pytest

from spooler.envelope import (
    MalformedMessage,
    UnsafeHeaderError,
    envelope_lines,
    parse_pickup,
    pickup_name,
    priority_of,
)

MESSAGE = b"From: Site <site@example.test>\r\nTo: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n"


def test_x_sender_and_x_receiver_make_the_envelope_and_are_stripped():
    data = b"X-Sender: <bounce@example.test>\r\nX-Receiver: <x@example.test>\r\n" \
           b"X-Receiver: y@example.test\r\n" + MESSAGE
    parsed = parse_pickup(data)
    assert parsed.sender == "bounce@example.test"
    assert parsed.recipients == ("x@example.test", "y@example.test")
    assert parsed.content == MESSAGE


def test_envelope_lines_are_read_case_insensitively_as_dotnet_writes_them():
    parsed = parse_pickup(b"x-sender: a@example.test\nx-receiver: b@example.test\n" + MESSAGE)
    assert (parsed.sender, parsed.recipients) == ("a@example.test", ("b@example.test",))


def test_without_envelope_lines_headers_give_the_envelope_like_sendmail_t():
    data = (b"From: Site <site@example.test>\nTo: A <a@example.test>, b@example.test\n"
            b"Cc: c@example.test\nBcc: hidden@example.test,\n a@example.test\n"
            b"Subject: hi\n\nbody\n")
    parsed = parse_pickup(data)
    assert parsed.sender == "site@example.test"
    assert parsed.recipients == ("a@example.test", "b@example.test", "c@example.test",
                                 "hidden@example.test")
    assert b"Bcc" not in parsed.content and b"hidden" not in parsed.content


def test_sender_header_wins_over_from():
    parsed = parse_pickup(b"From: a@example.test\r\nSender: s@example.test\r\n"
                          b"To: b@example.test\r\n\r\nx\r\n")
    assert parsed.sender == "s@example.test"


def test_null_sender_is_kept():
    assert parse_pickup(b"X-Sender: <>\r\nX-Receiver: <a@example.test>\r\n" + MESSAGE).sender == ""


def test_content_is_byte_for_byte_with_lf_made_crlf():
    data = b"From: a@example.test\nTo: b@example.test\nX-Custom:  spaced\t value \n\n.dot\n\xc3\xa9\n"
    parsed = parse_pickup(data)
    assert parsed.content == data.replace(b"\n", b"\r\n")
    assert parsed.needs_8bitmime and not parsed.needs_smtputf8


def test_non_ascii_recipient_needs_smtputf8():
    parsed = parse_pickup("X-Receiver: <zoë@example.test>\n".encode() + MESSAGE)
    assert parsed.needs_smtputf8


def test_message_with_headers_but_no_body_is_accepted():
    parsed = parse_pickup(b"From: a@example.test\r\nTo: b@example.test\r\nSubject: x")
    assert parsed.content == b"From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\n\r\n"


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"\r\n\r\n  \n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a header"),
    (b"just some text\nwithout headers\n", "not a header"),
    (b"From: a@example.test\nSubject: no recipients\n\nbody\n", "no recipients"),
    (b"To: b@example.test\nSubject: no sender\n\nbody\n", "no sender"),
    (b"From: a@example.test\nTo: not an address\n\nbody\n", "not an address"),
    (b"X-Receiver: <a@b@c>\n" + MESSAGE, "not an address"),
    (b"From: a@example.test\nTo: b@example.test\nX-Bad: nul\x00byte\n\nbody\n", "NUL"),
])
def test_unsendable_files_are_refused_with_a_reason(data, reason):
    with pytest.raises(MalformedMessage, match=reason):
        parse_pickup(data)


def test_envelope_lines_refuse_injection():
    with pytest.raises(UnsafeHeaderError):
        envelope_lines("a@example.test", ["b@example.test>\r\nX-Receiver: <victim@example.org"])
    with pytest.raises(UnsafeHeaderError):
        envelope_lines("a@example.test", [])


def test_priority_class_round_trips_through_the_file_name():
    assert priority_of(pickup_name("abc", "bulk")) == "bulk"
    assert priority_of(pickup_name("abc")) == "transactional"
    assert priority_of("dropped-by-hand.eml") == "transactional"
