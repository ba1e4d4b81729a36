"""A file cut short says so by its own structure, and whole mail never looks cut: a multipart
without its closing boundary and a base64 body of impossible length are refused as "looks
truncated"; every kind of mail the site, the relay and people write reads as whole."""

from __future__ import annotations

import base64
import os
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from spooler.envelope import (
    MalformedMessage,
    TruncatedMessage,
    envelope_lines,
    parse_pickup,
    read_envelope,
)
from spooler.message import Address, Notification, build
from spooler.stamp import Stamp, slot

HEAD = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: the report\r\nMIME-Version: 1.0\r\n"


def with_attachment(size: int = 3000) -> bytes:
    """What a mail program writes: multipart/mixed, a text part, a base64 file in lines."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.test", "b@example.test", "x"
    message.set_content("The file is attached.\n")
    message.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream",
                           filename="report.bin")
    return message.as_bytes(policy=SMTP)


def single_base64(payload: bytes, line_end: bytes = b"\r\n") -> bytes:
    encoded = base64.encodebytes(payload).replace(b"\n", line_end)   # 76 characters a line
    return (HEAD + b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + encoded)


def site_notification(html: str | None = "<p>An answer</p>") -> bytes:
    message = build(Notification(sender=Address.parse("Q&A <noreply@example.test>"),
                                 to=[Address("ann@example.test", "Ann")], subject="A new answer",
                                 text="Hello Ann,\n\nsomeone answered.\n", html=html))
    return envelope_lines(message.sender, message.recipients) + message.content


def looks_truncated(data: bytes) -> str:
    with pytest.raises(TruncatedMessage) as refused:
        parse_pickup(data)
    assert str(refused.value).startswith("looks truncated: ")
    assert isinstance(refused.value, MalformedMessage)   # every caller that refuses those refuses it
    return str(refused.value)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_a_multipart_cut_anywhere_after_its_header_looks_truncated(keep):
    whole = with_attachment()
    parse_pickup(whole)
    why = looks_truncated(whole[:int(len(whole) * keep)])
    assert "its multipart body has no closing boundary line --===" in why


@pytest.mark.parametrize("cut", [3, 4, 5])
def test_a_multipart_cut_inside_its_closing_line_looks_truncated(cut):
    whole = with_attachment()
    assert whole.endswith(b"==--\r\n")
    looks_truncated(whole[:-cut])


@pytest.mark.parametrize("cut", [1, 2])   # "\r" alone is a line end too
def test_a_multipart_whose_closing_line_lost_only_its_line_end_is_whole(cut):
    parse_pickup(with_attachment()[:-cut])


def test_a_multipart_cut_right_after_its_first_delimiter_looks_truncated():
    looks_truncated(HEAD + b'Content-Type: multipart/mixed;\r\n\tboundary="outer"\r\n\r\n--outer')


def test_a_folded_content_type_and_an_unquoted_boundary_are_read():
    body = b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    looks_truncated(HEAD + b"Content-Type: multipart/mixed;\r\n boundary=b1\r\n" + body)
    parse_pickup(HEAD + b"Content-Type: multipart/mixed;\r\n boundary=b1\r\n" + body + b"--b1--\r\n")
    parse_pickup(HEAD + b"CONTENT-TYPE: Multipart/Mixed; BOUNDARY=\"b1\"\r\n" + body + b"--b1--")


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_a_base64_body_of_impossible_length_looks_truncated(cut):
    whole = single_base64(os.urandom(1000))
    why = looks_truncated(whole.rstrip(b"\r\n")[:-cut])
    assert "its base64 body has 1,3" in why and "a whole one has a multiple of 4" in why


@pytest.mark.parametrize("size", [998, 999, 1000, 57, 0])   # "==" padding, "=", none, one line, empty
@pytest.mark.parametrize("line_end", [b"\r\n", b"\n", b"\r"])
def test_a_whole_base64_body_with_line_breaks_and_padding_is_whole(size, line_end):
    parse_pickup(single_base64(os.urandom(size), line_end))


def test_what_the_site_writes_is_whole():
    parse_pickup(site_notification())                     # multipart/alternative, quoted-printable
    parse_pickup(site_notification(html=None))            # one text part
    template = Notification(sender=Address.parse("Q&A <news@example.test>"),
                            to=[Address("x@example.test")], subject="Our newsletter",
                            text=f"Hello {slot('name')},\n" + "news\n" * 2000,
                            html=f"<p>Hello {slot('name')}</p>" + "<p>news</p>" * 2000,
                            extra_headers={"List-Unsubscribe": "<https://x.example.test/u>"})
    stamp = Stamp(template, recipient_headers=("List-Unsubscribe",))
    for n in range(3):
        stamped = stamp.message(Address(f"m{n}@example.test"), f"{n}@example.test",
                                headers={"List-Unsubscribe": f"<https://x.example.test/u/{n}>"},
                                values={"name": f"Member {n}"})
        parse_pickup(envelope_lines(stamped.sender, stamped.recipients) + stamped.content)


def test_plain_mail_without_mime_and_mail_programs_multiparts_are_whole():
    parse_pickup(b"From: cron@example.test\nTo: root@example.test\nSubject: backup\n\ndone\n")
    parse_pickup(b"From: a@example.test\r\nTo: b@example.test\r\n")        # no body at all
    parse_pickup(with_attachment())
    parse_pickup(with_attachment() + b"an epilogue after the close\r\n")
    parse_pickup(with_attachment().replace(b"==--\r\n", b"==--  \r\n"))   # padding after it
    nested = EmailMessage()
    nested["From"], nested["To"], nested["Subject"] = "a@example.test", "b@example.test", "x"
    nested.set_content("text")
    nested.add_alternative("<p>html</p>", subtype="html")
    nested.add_attachment(b"data", maintype="application", subtype="octet-stream")
    parse_pickup(nested.as_bytes(policy=SMTP))


def test_a_boundary_that_cannot_be_read_never_refuses_a_message():
    for content_type in (b'multipart/mixed; boundary=""', b'multipart/mixed; boundary="unclosed',
                         b"multipart/mixed; boundary*0=part; boundary*1=two", b"multipart/mixed"):
        parse_pickup(HEAD + b"Content-Type: " + content_type + b"\r\n\r\n--part\r\n\r\nx\r\n")


def test_a_multipart_header_over_a_body_with_no_part_at_all_is_no_sign_of_a_cut():
    parse_pickup(HEAD + b"Content-Type: multipart/report; boundary=b\r\n\r\nplain text\r\n")
    parse_pickup(HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n")   # no body at all


def test_the_start_of_a_file_is_read_for_its_envelope_without_looking_for_its_end():
    start = with_attachment()[:400]
    assert read_envelope(start) == ("a@example.test", ("b@example.test",))
