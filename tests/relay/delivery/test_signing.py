"""DKIM signing: what a real aiosmtpd server receives verifies with dkimpy against the public key
(the TXT record served by a dnsfunc instead of DNS); keys are made here as openssl makes them."""

from __future__ import annotations

import json
import logging
import re

import dkim
import pytest

from relay.queue.folders import DEFERRED, Queue
from relay.queue.history import History
from settings import load_config
from tests.configs import write_toml
from tests.relay.delivery import key_files
from tests.relay.delivery.key_files import key_file, published
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    relay_cli,
    relay_cmd,
    relay_config,
    relay_config_file,
    wait_until,
)
from tests.smtp_servers import FaultyServer


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    return key_files.rsa_pem(2048)


@pytest.fixture(scope="module")
def ed25519_pem() -> bytes:
    return key_files.ed25519_pem()


def dkim_table(domain: str, selector: str, key: str, **more) -> dict:
    return {"domain": domain, "selector": selector, "key_file": key, **more}


def records_of(config) -> list[str]:
    from relay.delivery.signing import load_key
    return [load_key(d).dns_record() for d in config.relay.dkim]


def signature_tags(content: bytes) -> dict[str, str]:
    head = content.split(b"\n\n", 1)[0].decode()
    [value] = re.findall(r"^DKIM-Signature:(.*(?:\n[ \t].*)*)", head, re.MULTILINE)
    tags = (t.strip().split("=", 1) for t in value.split(";") if "=" in t)
    return {k: re.sub(r"\s+", "", v) for k, v in tags}


def deliver(tmp_path, server, config, *files_: bytes) -> None:
    for n, data in enumerate(files_):
        (config.pickup.dir / f"by-hand-{n}.eml").write_bytes(data)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == len(files_), what="the deliveries")


def test_a_file_dropped_by_hand_with_lf_line_ends_and_an_8bit_body_arrives_signed_and_verifies(
        tmp_path, rsa_pem):
    key_file(tmp_path, "dkim.key", rsa_pem)
    message = ("From: Q&A <noreply@example.org>\nTo: ann@example.test\nSubject: Réponse\n"
               "Message-ID: <lf@example.org>\nMIME-Version: 1.0\n"
               "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
               "Quelqu'un a répondu à votre question : « ça marche ».\n.\nFin.\n").encode()
    with FaultyServer() as server:
        config = relay_config(tmp_path, server.port, dkim=dkim_table("example.org", "mail", "dkim.key"))
        deliver(tmp_path, server, config, message)
    [got] = server.received
    tags = signature_tags(got.content)
    assert tags["d"] == "example.org" and tags["s"] == "mail" and tags["a"] == "rsa-sha256"
    assert "content-type" in tags["h"].split(":") and "subject" in tags["h"].split(":")
    assert "Réponse".encode() in got.content and b"\n.\nFin." in got.content
    assert dkim.verify(got.content, dnsfunc=published(*records_of(config)))
    assert not dkim.verify(got.content.replace(b"Fin.", b"End."), dnsfunc=published(*records_of(config)))


def test_list_unsubscribe_and_list_unsubscribe_post_are_signed_for_one_click_unsubscribe(
        tmp_path, rsa_pem):
    key_file(tmp_path, "dkim.key", rsa_pem)
    message = (b"From: <digest@example.org>\r\nTo: ann@example.test\r\nSubject: Weekly digest\r\n"
               b"List-Unsubscribe: <https://qa.example.org/unsubscribe/abc>\r\n"
               b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nThis week...\r\n")
    with FaultyServer() as server:
        config = relay_config(tmp_path, server.port, dkim=dkim_table("example.org", "mail", "dkim.key"))
        deliver(tmp_path, server, config, message)
    [got] = server.received
    signed = signature_tags(got.content)["h"].split(":")
    assert "list-unsubscribe" in signed and "list-unsubscribe-post" in signed
    assert signed.count("from") == 2   # signed once more: no second From can be added
    assert dkim.verify(got.content, dnsfunc=published(*records_of(config)))


def test_each_from_domain_gets_its_own_key_and_another_domain_goes_out_unsigned_saying_so_once(
        tmp_path, rsa_pem, ed25519_pem, caplog):
    caplog.set_level(logging.INFO, logger="relay")
    key_file(tmp_path, "org.key", rsa_pem)
    key_file(tmp_path, "net.key", ed25519_pem)
    tables = [dkim_table("example.org", "mail", "org.key"),
              dkim_table("example.net", "ed", "net.key", algorithm="ed25519-sha256")]

    def mail(sender: str) -> bytes:
        return f"From: {sender}\r\nTo: ann@example.test\r\nSubject: from {sender}\r\n\r\nhi\r\n".encode()
    with FaultyServer() as server:
        config = relay_config(tmp_path, server.port, dkim=tables)
        deliver(tmp_path, server, config, mail("a@example.org"), mail("b@news.example.net"),
                mail("c@example.com"))
    dns = published(*records_of(config))
    by_sender = {r.sender: r.content for r in server.received}
    assert signature_tags(by_sender["a@example.org"])["d"] == "example.org"
    net = signature_tags(by_sender["b@news.example.net"])
    assert net["d"] == "example.net" and net["a"] == "ed25519-sha256"   # the parent domain aligns
    assert dkim.verify(by_sender["a@example.org"], dnsfunc=dns)
    assert dkim.verify(by_sender["b@news.example.net"], dnsfunc=dns)
    assert b"DKIM-Signature" not in by_sender["c@example.com"]
    unsigned = [r.getMessage() for r in caplog.records if "without a DKIM signature" in r.getMessage()]
    assert len(unsigned) == 1 and "example.com" in unsigned[0]


def test_a_message_that_cannot_be_signed_is_deferred_with_the_reason_and_nothing_is_sent(
        tmp_path, rsa_pem):
    key_file(tmp_path, "dkim.key", rsa_pem)
    two_domains = (b"From: a@example.org, b@elsewhere.test\r\nSender: a@example.org\r\n"
                   b"To: ann@example.test\r\nSubject: two authors\r\n\r\nhi\r\n")
    with FaultyServer() as server:
        config = relay_config(tmp_path, server.port, retry_schedule=["1h"],
                              dkim=dkim_table("example.org", "mail", "dkim.key"))
        (config.pickup.dir / "by-hand.eml").write_bytes(two_domains)
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["deferred"] == 1, what="the deferral")
            assert relay.smarthosts.down_until == 0   # no fault of the smart host
        assert server.mail_from == []
    [path] = files(config.relay.queue_dir / DEFERRED)
    history = History.from_json((config.relay.queue_dir / "meta" / f"{path.name.split('.')[0]}.json")
                                .read_text())
    [attempt] = history.attempts
    assert attempt.code is None and attempt.reply.startswith("not sent: DKIM: From has addresses at "
                                                             "example.org, elsewhere.test")


def test_relay_check_prints_the_txt_record_that_verifies_what_the_relay_signs(tmp_path, rsa_pem):
    key_file(tmp_path, "dkim.key", rsa_pem)
    with FaultyServer() as server:
        config_path = relay_config_file(tmp_path, server.port,
                                        dkim=dkim_table("example.org", "mail", "dkim.key"))
        config = load_config(config_path)
        Queue.from_config(config).create()
        check = relay_cli(config_path, "check")
        drop_notification(config)   # From: noreply@example.test: not ours to sign
        (config.pickup.dir / "ours.eml").write_bytes(
            b"From: a@example.org\r\nTo: ann@example.test\r\nSubject: hi\r\n\r\nhi\r\n")
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["sent"] == 2, what="the deliveries")
    assert check.exit_code == 0, check.stdout
    assert "ok       DKIM key for example.org: " in check.stdout and "2048 bits" in check.stdout
    [record] = re.findall(r"publish: (.*)", check.stdout)
    assert record.startswith('mail._domainkey.example.org IN TXT "v=DKIM1; k=rsa; p=MIIBIjAN')
    assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', record))
    [ours] = [r.content for r in server.received if r.sender == "a@example.org"]
    assert dkim.verify(ours, dnsfunc=published(record))


def test_a_group_readable_key_is_a_problem_for_relay_check_and_relay_run_exits_2(tmp_path, rsa_pem):
    key_file(tmp_path, "dkim.key", rsa_pem, mode=0o640)
    with FaultyServer() as server:
        config_path = relay_config_file(tmp_path, server.port,
                                        dkim=[dkim_table("example.org", "mail", "dkim.key")])
        config = load_config(config_path)
        Queue.from_config(config).create()
        check = relay_cli(config_path, "check")
        run = relay_cmd(config_path, "run", timeout=30)
        assert server.mail_from == []
    assert check.exit_code == 1
    assert "PROBLEM  DKIM key for example.org: " in check.stdout and "mode 0640" in check.stdout
    assert run.returncode == 2 and "mode 0640" in run.stderr and "chmod 600" in run.stderr
    assert "BEGIN PRIVATE KEY" not in check.stdout + run.stderr


def test_a_file_that_is_not_a_key_for_the_algorithm_stops_the_start_saying_what_to_do(
        tmp_path, ed25519_pem):
    from relay.delivery.signing import DkimSetupError, DkimSigner

    key_file(tmp_path, "dkim.key", ed25519_pem)
    config = relay_config(tmp_path, 2525, dkim=dkim_table("example.org", "mail", "dkim.key"))
    with pytest.raises(DkimSetupError, match='not an RSA private key.*algorithm = "ed25519-sha256"'):
        DkimSigner.load(config.relay.dkim)
    key_file(tmp_path, "missing.key", b"")
    (tmp_path / "missing.key").unlink()
    config = relay_config(tmp_path, 2525, dkim=dkim_table("example.org", "mail", "missing.key"))
    with pytest.raises(DkimSetupError, match="missing.key.*cannot open: No such file"):
        DkimSigner.load(config.relay.dkim)


@pytest.mark.parametrize(("dkim", "error"), [
    ({"domain": "example.org", "selector": "mail"}, "[relay.dkim] key_file: required"),
    ({"domain": "Example.ORG", "selector": "mail", "key_file": "k"}, "[relay.dkim] domain:"),
    ({"domain": "example.org", "selector": "mail", "key_file": "k", "headers": ["Subject"]},
     '[relay.dkim] headers: must include "From"'),
    ({"domain": "example.org", "selector": "mail", "key_file": "k", "algorithm": "dsa"},
     "[relay.dkim] algorithm:"),
    ([{"domain": "example.org", "selector": "a", "key_file": "k"},
      {"domain": "example.org", "selector": "b", "key_file": "k"}], "configured twice"),
    ([{"domain": "example.org", "selector": "a", "key_file": "k"}, {"domain": "example.net"}],
     "[relay.dkim #2] selector: required"),
])
def test_dkim_config_errors_name_the_table_and_the_key(tmp_path, dkim, error):
    # Written as text: config_file would refuse these tables before the loader saw the file.
    toml = "".join("[[relay.dkim]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in t.items())
                   for t in (dkim if isinstance(dkim, list) else [dkim]))
    path = write_toml(tmp_path, toml)
    from settings import ConfigError
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert error in str(caught.value) and "config.toml" in str(caught.value)
