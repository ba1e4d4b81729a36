"""relay.sink.release: one captured message sent on to a real SMTP server (a second sink, a
FaultyServer on 127.0.0.1), or refused, in words that say why, with nothing sent."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import trustme

from relay.sink.maildir import Maildir, StoredMessage
from relay.sink.release import ReleaseFailed, ReleaseOff, ReleaseRefused, release, typed_recipients
from relay.sink.server import Sink, server_context
from settings import ReleaseConfig, parse_config
from tests.smtp_servers import Faults, FaultyServer

CAPTURED = (b"From: Q&A <noreply@example.test>\nTo: Ann <ann@example.test>\nSubject: Activate\n"
            b"Content-Type: text/plain; charset=utf-8\n\nHello Ann,\n.\n..a line with dots\n"
            b"open http://127.0.0.1:5000/activate/abc\n")


def captured(tmp_path) -> StoredMessage:
    box = Maildir(tmp_path / "captured")
    return Maildir.read(box.store("noreply@example.test", ["ann@example.test"], CAPTURED))


def to(port: int, **keys) -> ReleaseConfig:
    """[sink.release] towards 127.0.0.1:port, plaintext (a local test server), me@ allowed."""
    table = {"host": "127.0.0.1", "port": port, "tls": "none", "allowed_recipients": ["me@example.org"],
             **keys}
    return parse_config({"sink": {"release": table}}, base_dir=Path("/"), source=None).sink.release


def test_a_released_message_arrives_at_the_second_sink_byte_for_byte(tmp_path):
    with Sink(tmp_path / "second") as second:
        done = release(captured(tmp_path), ["me@example.org"], to(second.port))
        [arrived] = second.maildir.messages()
    assert done.sent_to == ("me@example.org",) and done.refused == ()
    assert done.server == f"127.0.0.1:{second.port}"
    assert arrived.content == CAPTURED   # nothing added; dots and line ends as captured
    assert arrived.sender == "noreply@example.test" and arrived.recipients == ("me@example.org",)


def test_without_recipients_it_goes_to_the_envelope_recipients_and_sender_can_be_set(tmp_path):
    with Sink(tmp_path / "second") as second:
        config = to(second.port, allowed_recipients=["example.test"], sender="dev@example.org")
        done = release(captured(tmp_path), [], config)
        [arrived] = second.maildir.messages()
    assert done.sent_to == ("ann@example.test",)
    assert arrived.sender == "dev@example.org" and arrived.recipients == ("ann@example.test",)


def test_an_address_outside_the_allow_list_stops_the_release_to_everyone(tmp_path):
    with Sink(tmp_path / "second") as second:
        with pytest.raises(ReleaseRefused) as refused:
            release(captured(tmp_path), ["me@example.org", "customer@real.example"], to(second.port))
        assert second.maildir.count() == 0
    assert str(refused.value) == ("<customer@real.example> is not in [sink.release] allowed_recipients "
                                  "(me@example.org); nothing was sent")


def test_a_domain_in_the_allow_list_lets_any_address_at_it_have_the_message(tmp_path):
    with Sink(tmp_path / "second") as second:
        done = release(captured(tmp_path), ["A@Example.org", "b@example.org"],
                       to(second.port, allowed_recipients=["example.org"]))
        assert second.maildir.count() == 1
    assert done.sent_to == ("A@Example.org", "b@example.org")


def test_something_that_is_not_an_address_is_refused_before_connecting(tmp_path):
    with pytest.raises(ReleaseRefused, match=r"recipient 'me\(at\)example.org' is not an address"):
        release(captured(tmp_path), ["me(at)example.org"], to(1))


def test_without_a_host_release_is_off_and_says_how_to_turn_it_on(tmp_path):
    with pytest.raises(ReleaseOff, match=r"set \[sink.release\] host and allowed_recipients"):
        release(captured(tmp_path), ["me@example.org"], ReleaseConfig())


def test_starttls_to_a_certificate_nobody_trusts_fails_saying_so_and_sends_nothing(tmp_path):
    cert = trustme.CA().issue_cert("127.0.0.1")   # a CA the client has never heard of
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    context = server_context(tmp_path / "cert.pem", tmp_path / "key.pem")
    with Sink(tmp_path / "second", tls_context=context) as second:
        with pytest.raises(ReleaseFailed) as failed:
            release(captured(tmp_path), ["me@example.org"], to(second.port, tls="starttls"))
        assert second.maildir.count() == 0
    reason = str(failed.value)
    assert reason.startswith("not released: TLS: certificate issuer not trusted (")
    assert reason.endswith(f" at 127.0.0.1:{second.port}; "
                           "set [sink.release] ca_file to the CA that issued it")


def test_starttls_with_the_ca_in_ca_file_sends(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    context = server_context(tmp_path / "cert.pem", tmp_path / "key.pem")
    with Sink(tmp_path / "second", tls_context=context) as second:
        release(captured(tmp_path), ["me@example.org"],
                to(second.port, tls="starttls", ca_file=str(tmp_path / "ca.pem")))
        assert second.maildir.count() == 1


def test_a_host_that_is_down_fails_at_once_naming_it(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]   # nobody listens there once it closes
    with pytest.raises(ReleaseFailed, match=rf"^not released: connection to 127.0.0.1:{port} refused$"):
        release(captured(tmp_path), ["me@example.org"], to(port))


def test_a_host_that_never_answers_fails_within_the_timeout(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as silent:   # connects, never greets
        start = time.monotonic()
        with pytest.raises(ReleaseFailed, match=r"^not released: 127.0.0.1:\d+: .*timed out$"):
            release(captured(tmp_path), ["me@example.org"], to(silent.getsockname()[1], timeout="1s"))
        assert time.monotonic() - start < 3


def test_a_recipient_the_server_refuses_is_reported_and_the_others_get_it(tmp_path):
    faults = Faults(rcpt_replies={"gone@example.org": "550 5.1.1 No such user"})
    with FaultyServer(faults) as server:
        done = release(captured(tmp_path), ["me@example.org", "gone@example.org"],
                       to(server.port, allowed_recipients=["example.org"]))
        assert [r.recipients for r in server.received] == [["me@example.org"]]
    assert done.sent_to == ("me@example.org",)
    assert done.refused == (("gone@example.org", "550 5.1.1 No such user"),)


def test_every_recipient_refused_is_a_failure_quoting_the_server(tmp_path):
    faults = Faults(rcpt_replies={"gone@example.org": "550 5.1.1 No such user"})
    with FaultyServer(faults) as server:
        with pytest.raises(ReleaseFailed) as failed:
            release(captured(tmp_path), ["gone@example.org"],
                    to(server.port, allowed_recipients=["gone@example.org"]))
        assert server.received == []
    assert str(failed.value) == (f"not released: 127.0.0.1:{server.port} refused "
                                 "<gone@example.org>: 550 5.1.1 No such user")


def test_typed_recipients_split_on_commas_semicolons_and_spaces():
    assert typed_recipients(" a@x.org, b@y.org;c@z.org  d@w.org ") == ["a@x.org", "b@y.org", "c@z.org",
                                                                       "d@w.org"]
    assert typed_recipients("  ") == []
