"""relay/inbound/limits.py and the limits as a flood meets them: one client address that opens
too many connections or sends too many messages is told to wait (421, 450); others still get in."""

from __future__ import annotations

import smtplib
import socket

import pytest

from relay.inbound.limits import PRUNE_AT, ClientLimits
from relay.inbound.server import InboundServer
from tests.relay.inbound.inbound_helpers import BOUNCE, client, dropped, inbound_config


def test_connections_count_per_address_and_in_all_and_free_up_when_closed():
    limits = ClientLimits(connections=3, client_connections=2, message_rate=None)
    assert limits.connect("192.0.2.1") is None and limits.connect("192.0.2.1") is None
    assert "2 connections at once from your address" in limits.connect("192.0.2.1")
    assert limits.connect("192.0.2.2") is None
    assert "3 connections at once from all clients" in limits.connect("192.0.2.3")
    limits.disconnect("192.0.2.1")
    assert limits.connect("192.0.2.3") is None and limits.total == 3


def test_a_message_rate_lets_a_burst_through_then_refills_with_time():
    limits = ClientLimits(10, 10, message_rate=(3, 60.0))
    assert [limits.take_message("a", 0.0) for _ in range(3)] == [None, None, None]
    assert limits.take_message("a", 1.0) == "3 messages per 60s from your address"
    assert limits.take_message("b", 1.0) is None          # another address has its own
    assert limits.take_message("a", 20.0) is None         # one message earned every 20 s
    assert limits.take_message("a", 21.0) is not None


def test_clients_whose_bucket_refilled_are_forgotten_so_memory_stays_bounded():
    limits = ClientLimits(10, 10, message_rate=(2, 1.0))
    for i in range(PRUNE_AT):
        limits.take_message(f"10.0.{i // 256}.{i % 256}", 0.0)
    limits.take_message("late", 5.0)
    assert len(limits._buckets) == 1


def test_a_flood_of_connections_from_one_address_gets_421_while_another_address_gets_in(tmp_path):
    config = inbound_config(tmp_path, connections=5, client_connections=3)
    host, _, port = config.inbound.listen.rpartition(":")
    with InboundServer(config.inbound):
        flood = [socket.create_connection((host, int(port)), timeout=10) for _ in range(4)]
        try:
            greetings = [conn.makefile("rb").readline() for conn in flood]
            assert [g[:4] for g in greetings] == [b"220 "] * 3 + [b"421 "]
            assert greetings[3].startswith(b"421 4.7.0 ") and b"your address" in greetings[3]
            assert flood[3].recv(1) == b""   # and closed
            with client(config, source="127.0.0.2") as other:
                assert other.sendmail("", ["bounces@ours.test"], BOUNCE) == {}
        finally:
            for conn in flood:
                conn.close()
        # Closed connections are counted no more: the flooding address is welcome again.
        with client(config) as again:
            assert again.sendmail("", ["bounces@ours.test"], BOUNCE) == {}
    assert len(dropped(config)) == 2


def test_a_flood_of_messages_from_one_address_gets_450_at_mail_from_while_another_sends(tmp_path):
    config = inbound_config(tmp_path, client_message_rate="3/m")
    with InboundServer(config.inbound), client(config) as flooder:
        for _ in range(3):
            assert flooder.sendmail("", ["bounces@ours.test"], BOUNCE) == {}
        code, reply = flooder.mail("<>")
        assert code == 450 and reply.startswith(b"4.7.1 too many messages (3 messages per 60s")
        with client(config, source="127.0.0.2") as other:
            assert other.sendmail("", ["bounces@ours.test"], BOUNCE) == {}
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            flooder.sendmail("", ["bounces@ours.test"], BOUNCE)
        assert refused.value.smtp_code == 450
    assert len(dropped(config)) == 4
