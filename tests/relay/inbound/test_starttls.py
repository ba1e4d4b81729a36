"""STARTTLS on `relay receive` ([inbound] tls_cert and tls_key): offered, never required, the
certificate verified by a client that trusts the CA (trustme), and the Received: line saying so."""

from __future__ import annotations

import ssl

import pytest
import trustme

from relay.inbound.server import InboundServer
from spooler.envelope import parse_pickup
from tests.relay.inbound.inbound_helpers import BOUNCE, client, dropped, inbound_config


@pytest.fixture
def tls_config(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("mx.ours.test", "127.0.0.1")   # the client dials 127.0.0.1
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "mx.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "mx.key"))
    config = inbound_config(tmp_path, tls_cert="mx.pem", tls_key="mx.key", hostname="mx.ours.test")
    return config, ca


def test_starttls_is_offered_verified_and_named_in_the_received_line(tls_config):
    config, ca = tls_config
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    with InboundServer(config.inbound), client(config) as smtp:
        assert smtp.has_extn("starttls")
        smtp.starttls(context=trusting)
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        assert smtp.sendmail("member@other.test", ["reply+k3y@ours.test"], BOUNCE) == {}
    [stored] = dropped(config)
    data = stored.read_bytes()
    assert b"Received: from client.other.test ([127.0.0.1])\r\n\t(using TLSv1." in data
    assert b"\tby mx.ours.test (Pickup Relay) with ESMTPS id " in data
    assert parse_pickup(data).recipients == ("reply+k3y@ours.test",)


def test_a_client_without_tls_is_still_taken_as_a_public_mx_must(tls_config):
    config, _ca = tls_config
    with InboundServer(config.inbound), client(config) as smtp:
        assert smtp.sendmail("", ["bounces@ours.test"], BOUNCE) == {}
    assert b"with ESMTP id" in dropped(config)[0].read_bytes()


def test_a_client_that_does_not_trust_the_certificate_gets_no_session(tls_config):
    config, _ca = tls_config
    with InboundServer(config.inbound), client(config) as smtp:
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.starttls(context=ssl.create_default_context())
    assert dropped(config) == []
