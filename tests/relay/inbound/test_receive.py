"""`relay receive`'s server (relay/inbound/server.py) on 127.0.0.1, spoken to by real SMTP
clients: only our domains, the size limit, the file it stores and when it answers."""

from __future__ import annotations

import smtplib
import socket

import pytest

from relay.inbound.server import InboundServer
from spooler.envelope import parse_pickup
from tests.relay.inbound.inbound_helpers import BOUNCE, client, dropped, inbound_config


@pytest.fixture
def config(tmp_path):
    return inbound_config(tmp_path, max_message_size="4KB")


@pytest.fixture
def server(config):
    with InboundServer(config.inbound) as running:
        yield running


def test_a_bounce_from_the_null_sender_is_stored_as_one_pickup_format_file_before_the_250(config, server):
    with client(config) as smtp:
        smtp.mail("<>")
        assert smtp.rcpt("bounces+t0k3n@ours.test")[0] == 250
        code, reply = smtp.data(BOUNCE)
        [stored] = dropped(config)   # there the moment the 250 arrives: written before it
    assert code == 250 and reply.decode() == f"2.0.0 OK stored as {stored.stem}"
    assert stored.name == f"{stored.stem}.eml" and len(stored.stem) == 24
    data = stored.read_bytes()
    assert data.startswith(b"X-Sender: <>\r\nX-Receiver: <bounces+t0k3n@ours.test>\r\nReceived: from "
                           b"client.other.test ([127.0.0.1])\r\n\tby ")
    assert data.endswith(b"\r\n" + BOUNCE)   # the message as it came, CRLF
    assert f"with ESMTP id {stored.stem}\r\n\tfor <bounces+t0k3n@ours.test>; ".encode() in data
    parsed = parse_pickup(data)
    assert (parsed.sender, parsed.recipients) == ("", ("bounces+t0k3n@ours.test",))


def test_several_recipients_make_one_file_naming_each_once(config, server):
    with client(config) as smtp:
        refused = smtp.sendmail("member@other.test", ["reply+a@ours.test", "reply+b@OURS.test",
                                                      "reply+a@ours.test", "x@other.test"], BOUNCE)
    assert list(refused) == ["x@other.test"]
    [stored] = dropped(config)
    parsed = parse_pickup(stored.read_bytes())
    assert parsed.sender == "member@other.test"
    assert parsed.recipients == ("reply+a@ours.test", "reply+b@OURS.test")
    assert stored.read_bytes().count(b"X-Receiver: ") == 2
    assert b"\tfor <" not in stored.read_bytes()   # several recipients: none is named in Received


@pytest.mark.parametrize("rcpt", [
    "<a@other.test>", "<a@evil-ours.test>", "<a@ours.test.other.test>", "<a@other.test@ours.test>",
    "<@ours.test:a@other.test>", "<@ours.test,@ours.test:a@other.test>", "<a%other.test@ours.test>",
    "<other.test!a@ours.test>", '<"a@other.test"@ours.test>', "<a@[127.0.0.1]>", "<postmaster>"])
def test_never_an_open_relay_whatever_the_recipient_looks_like(config, server, rcpt):
    with client(config) as smtp:
        assert smtp.docmd("MAIL FROM:<spammer@other.test>")[0] == 250
        code, reply = smtp.docmd(f"RCPT TO:{rcpt}")
        assert 550 <= code <= 553, reply
        assert smtp.docmd("DATA")[0] == 503   # no recipient was taken: nothing to send
    assert dropped(config) == []


def test_relaying_is_refused_with_550_5_7_1_and_a_source_route_to_ours_is_ours(config, server):
    with client(config) as smtp:
        smtp.mail("<>")
        assert smtp.rcpt("a@other.test") == (550, b"5.7.1 <a@other.test>: relay not permitted")
        assert smtp.rcpt("<@other.test:a@ours.test>")[0] == 250   # RFC 5321: the route is ignored
        assert smtp.data(BOUNCE)[0] == 250
    [stored] = dropped(config)
    assert parse_pickup(stored.read_bytes()).recipients == ("a@ours.test",)


def test_a_size_over_the_limit_is_refused_at_mail_from_and_at_the_end_of_data(config, server):
    with client(config) as smtp:
        assert smtp.esmtp_features["size"] == "4000"
        code, reply = smtp.mail("<>", ["SIZE=4001"])
        assert code == 552, reply
        assert smtp.mail("<>", ["SIZE=100"])[0] == 250   # a client that lies about the size
        assert smtp.rcpt("bounces@ours.test")[0] == 250
        code, _ = smtp.data(BOUNCE + (b"x" * 78 + b"\r\n") * 60)
        assert code == 552
        smtp.rset()
        smtp.mail("<>")
        smtp.rcpt("bounces@ours.test")
        assert smtp.data(BOUNCE)[0] == 250   # the same connection goes on
    assert len(dropped(config)) == 1


def test_content_the_site_could_not_read_is_refused_554_and_not_stored(config, server):
    with client(config) as smtp:
        smtp.mail("<>")
        smtp.rcpt("bounces@ours.test")
        code, reply = smtp.data(b"this is no header\r\n\r\nbody\r\n")
    assert code == 554 and reply.startswith(b"5.6.0 message not accepted: ")
    assert dropped(config) == []


def test_more_recipients_than_max_recipients_get_452_and_the_rest_are_kept(tmp_path):
    config = inbound_config(tmp_path, max_recipients=2)
    with InboundServer(config.inbound), client(config) as smtp:
        smtp.mail("<>")
        assert [smtp.rcpt(f"r{i}@ours.test")[0] for i in range(3)] == [250, 250, 452]
        assert smtp.data(BOUNCE)[0] == 250
    assert parse_pickup(dropped(config)[0].read_bytes()).recipients == ("r0@ours.test", "r1@ours.test")


def test_the_greeting_names_the_host_and_no_auth_is_offered(tmp_path):
    config = inbound_config(tmp_path, hostname="mx.ours.test")
    with InboundServer(config.inbound), client(config) as smtp:
        assert smtp.ehlo_resp.startswith(b"mx.ours.test") and "auth" not in smtp.esmtp_features
        smtp.sendmail("", ["a@ours.test"], BOUNCE)
    assert b"\tby mx.ours.test (Pickup Relay) with ESMTP id " in dropped(config)[0].read_bytes()


def test_a_helo_name_with_header_breaking_characters_reaches_the_received_line_defused(config, server):
    port = int(config.inbound.listen.rpartition(":")[2])
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.helo("evil.test)\tX-Injected:(yes")
        smtp.sendmail("", ["a@ours.test"], BOUNCE)
    data = dropped(config)[0].read_bytes()
    assert b"Received: from evil.test??X-Injected:?yes ([127.0.0.1])\r\n\tby " in data
    assert b"with SMTP id" in data   # HELO, not EHLO


def test_a_taken_port_is_refused_at_once(config):
    host, _, port = config.inbound.listen.rpartition(":")
    with socket.socket() as taken:
        taken.bind((host, int(port)))
        taken.listen()
        with pytest.raises(OSError), InboundServer(config.inbound):
            pass
