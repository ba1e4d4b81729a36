"""Reading pickup files: the envelope both ways, what is stripped, what is refused and why."""

from __future__ import annotations

import pytest

from spooler.envelope import (
    MAX_LINE,
    MalformedMessage,
    UnsafeHeaderError,
    envelope_lines,
    parse_pickup,
    split_envelope_lines,
    strip_envelope_lines,
)
from spooler.names import message_name, priority_of

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
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "line 3 contains a NUL byte"),
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


def wire_lines(content: bytes) -> list[bytes]:
    """The lines of wire content, asserting every one of them ends CRLF."""
    assert content.endswith(b"\r\n")
    lines = content[:-2].split(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line for line in lines), "a bare CR or LF is left"
    return lines


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"], ids=["CR", "LF", "CRLF"])
def test_a_bare_cr_and_a_bare_lf_are_each_one_line_end_made_crlf(ending):
    data = MESSAGE.replace(b"\r\n", ending)
    assert parse_pickup(data).content == MESSAGE


@pytest.mark.parametrize("body", [
    b"line1\r.\rMAIL FROM:<ceo@bank.example>\r\n",
    b"line1\r.\r\nMAIL FROM:<ceo@bank.example>\r\n",
    b"line1\n.\nMAIL FROM:<ceo@bank.example>\r\n",
    b"line1\n.\r\nMAIL FROM:<ceo@bank.example>\r\n",
    b"line1\r\n.\rMAIL FROM:<ceo@bank.example>\r\n",
], ids=["CR.CR", "CR.CRLF", "LF.LF", "LF.CRLF", "CRLF.CR"])
def test_a_smuggled_dot_line_becomes_a_crlf_dot_line_for_dot_stuffing_to_find(body):
    content = parse_pickup(MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body).content
    assert content.endswith(b"\r\n\r\nline1\r\n.\r\nMAIL FROM:<ceo@bank.example>\r\n")
    wire_lines(content)


def test_cr_cr_lf_is_two_line_ends_as_everywhere_else():
    parsed = parse_pickup(MESSAGE + b"a\r\r\nb\r\n")
    assert parsed.content.endswith(b"body\r\na\r\n\r\nb\r\n")


def test_a_header_after_a_bare_cr_is_parsed_as_the_line_it_is_sent_as():
    parsed = parse_pickup(b"From: a@example.test\r\nTo: b@example.test\rBcc: hidden@example.test\r\n"
                          b"Subject: hi\r\n\r\nbody\r\n")
    assert parsed.recipients == ("b@example.test", "hidden@example.test")
    assert b"hidden" not in parsed.content  # a Bcc line the parser saw is a Bcc line it strips


def test_envelope_lines_end_at_a_bare_cr_too():
    parsed = parse_pickup(b"X-Sender: <s@example.test>\rX-Receiver: <r@example.test>\r" + MESSAGE)
    assert (parsed.sender, parsed.recipients) == ("s@example.test", ("r@example.test",))
    assert parsed.content == MESSAGE


@pytest.mark.parametrize("data, line", [
    (MESSAGE + b"\x00.\r\n", 6),
    (MESSAGE.replace(b"body", b"bo\x00dy"), 5),
    (b"X-Sender: <a@example.test>\x00\r\n" + MESSAGE, 1),
    (MESSAGE.replace(b"\r\n", b"\r") + b"\x00", 6),
], ids=["dot-line", "body", "envelope", "after-bare-CRs"])
def test_a_nul_anywhere_refuses_the_file_naming_its_line(data, line):
    with pytest.raises(MalformedMessage, match=f"line {line} contains a NUL byte, which SMTP cannot carry"):
        parse_pickup(data)


def test_a_clean_message_goes_out_unchanged():
    data = MESSAGE.replace(b"body", b"x" * MAX_LINE)  # a line of exactly 998 is fine
    assert parse_pickup(data).content == data


def test_a_100_kb_header_line_is_folded_at_spaces_and_unfolds_to_the_original():
    recipients = [f"user{n}@example.test" for n in range(5000)]
    to = b"To: " + ", ".join(recipients).encode()
    assert len(to) > 100_000
    parsed = parse_pickup(b"From: a@example.test\r\n" + to + b"\r\nSubject: all\r\n\r\nbody\r\n")
    assert parsed.recipients == tuple(recipients)  # the envelope is read from the line as written
    lines = wire_lines(parsed.content)
    assert max(map(len, lines)) <= MAX_LINE
    assert all(line.startswith(b" ") for line in lines[2:lines.index(b"Subject: all")])
    assert parsed.content.replace(b"\r\n ", b" ") == (
        b"From: a@example.test\r\n" + to + b"\r\nSubject: all\r\n\r\nbody\r\n")


def test_a_long_line_without_spaces_is_cut_at_998_with_a_space_added_as_postfix_does():
    parsed = parse_pickup(MESSAGE + b"y" * 5000 + b"\r\n")
    lines = wire_lines(parsed.content)
    body = lines[lines.index(b"body") + 1:]
    assert [len(line) for line in body] == [998, 998, 998, 998, 998, 1 + 5000 - 998 - 4 * 997]
    assert body[0] == b"y" * 998 and all(line.startswith(b" y") for line in body[1:])
    assert b"".join(line[1:] for line in body[1:]) == b"y" * (5000 - 998)


def test_a_long_line_is_never_cut_inside_a_utf8_character():
    parsed = parse_pickup(MESSAGE + "é".encode() * 1500 + b"\r\n")
    body = wire_lines(parsed.content)[5:]
    assert max(map(len, body)) <= MAX_LINE
    for line in body:
        line.decode("utf-8")  # each piece is whole characters
    assert b"".join(line.lstrip(b" ") for line in body) == "é".encode() * 1500


def test_the_last_line_without_a_line_end_is_folded_too():
    parsed = parse_pickup(MESSAGE + b"z " * 1000)
    assert max(map(len, wire_lines(parsed.content + b"\r\n"))) <= MAX_LINE


def test_split_envelope_lines_gives_the_envelope_and_the_rest():
    data = b"X-Sender: <>\nx-receiver: a@example.test\r\nX-Receiver: <b@example.test>\r" + MESSAGE
    assert split_envelope_lines(data) == ("", ["a@example.test", "b@example.test"], MESSAGE)
    assert split_envelope_lines(MESSAGE) == (None, [], MESSAGE)


def test_strip_envelope_lines_removes_them_whatever_they_hold():
    data = b"X-Sender: Not An Address\nX-Receiver: <evil@example.test>\n" + MESSAGE
    assert strip_envelope_lines(data) == (MESSAGE, 2)
    assert strip_envelope_lines(MESSAGE) == (MESSAGE, 0)


def test_envelope_lines_refuse_injection():
    with pytest.raises(UnsafeHeaderError):
        envelope_lines("a@example.test", ["b@example.test>\r\nX-Receiver: <victim@example.org"])
    with pytest.raises(UnsafeHeaderError):
        envelope_lines("a@example.test", [])


def test_priority_class_round_trips_through_the_file_name():
    assert priority_of(message_name("abc", "bulk")) == "bulk"
    assert priority_of(message_name("abc")) == "transactional"
    assert priority_of("dropped-by-hand.eml") == "transactional"
