"""TLS and AUTH towards the smart host, against real aiosmtpd servers with certificates made here."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import ssl
import warnings

import pytest
import trustme
from aiosmtpd.smtp import AuthResult

from relay.queue.folders import DEFERRED, Queue
from relay.queue.history import History
from relay.smtp.client import SmtpConnection
from relay.smtp.replies import DeliveryResult, Outcome
from settings import load_config
from spooler.envelope import parse_pickup
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    relay_cli,
    relay_cmd,
    relay_config_file,
    wait_until,
)
from tests.smtp_servers import Faults, FaultyServer, TlsHandshakeServer

USER = "relay@example.test"
PASSWORD = "Zq7-correct-horse-battery"   # must never show up anywhere but on the wire, inside TLS
MESSAGE = b"From: site@example.test\r\nTo: user@example.test\r\nSubject: hi\r\n\r\nbody\r\n"
NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_context(ca: trustme.CA, *names: str, valid_days: float = 365,
                expired: bool = False) -> ssl.SSLContext:
    """A server context with a certificate from `ca` for `names` (default 127.0.0.1)."""
    if expired:
        window = {"not_before": NOW - datetime.timedelta(days=30),
                  "not_after": NOW - datetime.timedelta(days=1)}
    else:
        window = {"not_after": NOW + datetime.timedelta(days=valid_days)}
    cert = ca.issue_cert(*(names or ("127.0.0.1",)), **window)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


class Logins:
    """An aiosmtpd authenticator: takes USER/PASSWORD unless `refuse`; records each try."""

    def __init__(self, refuse: bool = False):
        self.refuse = refuse
        self.tries: list[tuple[str, str]] = []   # (mechanism, login)

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.tries.append((mechanism, login))
        ok = not self.refuse and (login, password) == (USER, PASSWORD)
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)  # 535 if not ok


def smarthost_config(tmp_path, port, ca_for=None, **smarthost):
    """config.toml with these [relay.smarthost] keys; ca_for: a CA whose PEM becomes ca_file."""
    if ca_for is not None:
        ca_for.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        smarthost.setdefault("ca_file", "ca.pem")
    return relay_config_file(tmp_path, port, smarthost=smarthost)


def relay_check(config_path):
    """`relay check` on a config whose folders exist, so only the smart host can be a problem."""
    config = load_config(config_path)
    Queue.from_config(config).create()
    return relay_cli(config_path, "check")


def send_one(config_path) -> DeliveryResult:
    connection = SmtpConnection(load_config(config_path).relay.smarthost)
    try:
        return connection.deliver(parse_pickup(MESSAGE))
    finally:
        connection.close()


def deferred_reason(result: DeliveryResult) -> str:
    [reply] = result.replies
    assert reply.outcome is Outcome.DEFERRED, reply
    assert result.host_unavailable
    return str(reply)


def history_of_the_deferred(config) -> History:
    [path] = files(config.relay.queue_dir / DEFERRED)
    return History.from_json((config.relay.queue_dir / "meta" / f"{path.name.split('.')[0]}.json")
                             .read_text())


def defer_once(config_path):
    """Run the relay until one message has been tried and deferred; it stays in deferred/."""
    config = load_config(config_path)
    drop_notification(config)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["deferred"] >= 1, what="a deferral")
    return config, history_of_the_deferred(config)


# --- TLS ------------------------------------------------------------------------------------

def test_starttls_delivers_over_tls_verified_against_the_ca_file(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca), require_starttls=True) as server:
        config = load_config(smarthost_config(tmp_path, server.port, ca, tls="starttls"))
        drop_notification(config)
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["sent"] == 1, what="delivery")
    [got] = server.received
    assert got.tls in ("TLSv1.2", "TLSv1.3") and got.recipients == ["user0@example.test"]


def test_after_starttls_the_final_dot_still_gets_data_timeout_not_timeout(tmp_path, ca):
    with FaultyServer(Faults(data_delay=1.5), tls=tls_context(ca), require_starttls=True) as server:
        result = send_one(smarthost_config(tmp_path, server.port, ca, tls="starttls", timeout="0.5s",
                                           data_timeout="10s"))
    assert result.recipients(Outcome.SENT) == ["user@example.test"]
    [got] = server.received
    assert got.tls in ("TLSv1.2", "TLSv1.3")


def test_implicit_tls_delivers_verified_against_the_ca_file(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca), implicit_tls=True) as server:
        result = send_one(smarthost_config(tmp_path, server.port, ca, tls="tls"))
    assert result.recipients(Outcome.SENT) == ["user@example.test"]
    assert server.received[0].tls in ("TLSv1.2", "TLSv1.3")


def test_untrusted_ca_defers_with_a_reason_naming_the_issuer(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca), implicit_tls=True) as server:
        result = send_one(smarthost_config(tmp_path, server.port, trustme.CA(), tls="tls"))
        assert server.mail_from == []
    reason = deferred_reason(result)
    assert reason.startswith("TLS: certificate issuer not trusted")
    assert "ca_file" in reason  # the fix


def test_system_store_does_not_trust_a_private_ca(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca), require_starttls=True) as server:
        result = send_one(smarthost_config(tmp_path, server.port, tls="starttls"))
        assert server.mail_from == []
    assert "certificate issuer not trusted" in deferred_reason(result)


def test_certificate_for_another_name_defers_with_a_reason_naming_the_name(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca, "mail.example.test"), require_starttls=True) as server:
        result = send_one(smarthost_config(tmp_path, server.port, ca, tls="starttls"))
        assert server.mail_from == []
    reason = deferred_reason(result)
    assert "certificate name does not match" in reason and "'127.0.0.1'" in reason


def test_expired_certificate_defers_with_a_reason_saying_it_expired(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca, expired=True), implicit_tls=True) as server:
        result = send_one(smarthost_config(tmp_path, server.port, ca, tls="tls"))
        assert server.mail_from == []
    assert deferred_reason(result).startswith("TLS: certificate expired")


def test_server_offering_only_old_tls_defers_with_a_reason_naming_the_protocol_version(tmp_path, ca):
    context = tls_context(ca)
    with warnings.catch_warnings():   # TLS 1.1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")   # else OpenSSL 3 will not speak TLS 1.1 at all
    with TlsHandshakeServer(context) as server:
        result = send_one(smarthost_config(tmp_path, server.port, ca, tls="tls"))
        wait_until(lambda: server.handshakes_failed == 1, what="the server's side of the handshake")
    assert "no protocol version in common" in deferred_reason(result)


def test_tls_name_is_the_name_checked_when_host_is_an_ip_address(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca, "mail.example.test"), require_starttls=True) as server:
        result = send_one(smarthost_config(tmp_path, server.port, ca, tls="starttls",
                                           tls_name="mail.example.test"))
    assert result.recipients(Outcome.SENT) == ["user@example.test"]


def test_verify_false_delivers_to_any_certificate_and_warns_at_start(tmp_path, ca, caplog):
    caplog.set_level(logging.INFO, logger="relay")
    with FaultyServer(tls=tls_context(ca, "elsewhere.example.test", expired=True),
                      require_starttls=True) as server:
        config = load_config(smarthost_config(tmp_path, server.port, tls="starttls", verify=False))
        drop_notification(config)
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["sent"] == 1, what="delivery")
    assert server.received[0].tls is not None
    [warning] = [r for r in caplog.records if "verify = false" in r.getMessage()]
    assert warning.levelno == logging.WARNING and warning.name == "relay"


def test_host_not_offering_starttls_gets_nothing_in_plaintext_and_the_message_is_deferred(tmp_path):
    with FaultyServer() as server:
        config, history = defer_once(smarthost_config(tmp_path, server.port, tls="starttls"))
        assert server.mail_from == [] and server.received == []
    reply = history.attempts[0].reply
    assert "STARTTLS not offered" in reply and "nothing sent" in reply
    assert files(config.pickup.dir) == []


def test_tls_failure_reason_shows_in_relay_status_and_relay_list(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca, expired=True), require_starttls=True) as server:
        config_path = smarthost_config(tmp_path, server.port, ca, tls="starttls")
        defer_once(config_path)
        status = relay_cli(config_path, "status")
        listing = relay_cli(config_path, "list")
    assert status.exit_code == 1
    assert "smart host not usable: TLS: certificate expired" in status.stdout
    assert "TLS: certificate expired" in listing.stdout


def test_relay_check_prints_the_protocol_the_subject_and_the_days_to_expiry(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca, valid_days=200.5), require_starttls=True) as server:
        result = relay_check(smarthost_config(tmp_path, server.port, ca, tls="starttls"))
    assert result.exit_code == 0, result.stdout
    [line] = [x for x in result.stdout.splitlines() if "smart host TLS" in x]
    assert line.startswith("ok ") and "TLSv1.3" in line and "(127.0.0.1)" in line
    assert "expires in 200 days" in line


def test_relay_check_warns_when_the_certificate_expires_within_14_days(tmp_path, ca):
    with FaultyServer(tls=tls_context(ca, valid_days=10.5), implicit_tls=True) as server:
        result = relay_check(smarthost_config(tmp_path, server.port, ca, tls="tls"))
    assert result.exit_code == 0, result.stdout   # a warning does not stop `relay run`
    assert "WARNING  smart host TLS:" in result.stdout and "expires in 10 days" in result.stdout
    assert "renewed" in result.stdout


# --- AUTH -----------------------------------------------------------------------------------

def test_login_uses_the_password_from_password_env_over_starttls(tmp_path, ca, monkeypatch):
    monkeypatch.setenv("SMARTHOST_PASSWORD", PASSWORD)
    logins = Logins()
    with FaultyServer(tls=tls_context(ca), authenticator=logins, auth_required=True) as server:
        result = send_one(smarthost_config(tmp_path, server.port, ca, tls="starttls", username=USER,
                                           password_env="SMARTHOST_PASSWORD"))
    assert result.recipients(Outcome.SENT) == ["user@example.test"]
    assert logins.tries == [("PLAIN", USER)] and server.received[0].login == USER


def test_login_uses_the_password_from_password_file_and_login_when_plain_is_not_offered(tmp_path, ca):
    (tmp_path / "password").write_text(PASSWORD + "\n")
    (tmp_path / "password").chmod(0o600)
    logins = Logins()
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; this connection is TLS from the start
    with FaultyServer(tls=tls_context(ca), implicit_tls=True, authenticator=logins,
                      auth_require_tls=False, auth_exclude_mechanism=["PLAIN"]) as server:
        result = send_one(smarthost_config(tmp_path, server.port, ca, tls="tls", username=USER,
                                           password_file="password"))
    assert result.recipients(Outcome.SENT) == ["user@example.test"]
    assert logins.tries == [("LOGIN", USER)]


def test_group_readable_password_file_is_refused_with_a_clear_error(tmp_path, ca):
    (tmp_path / "password").write_text(PASSWORD + "\n")
    (tmp_path / "password").chmod(0o640)
    logins = Logins()
    with FaultyServer(tls=tls_context(ca), authenticator=logins) as server:
        config_path = smarthost_config(tmp_path, server.port, ca, tls="starttls", username=USER,
                                       password_file="password")
        result = send_one(config_path)
        check = relay_check(config_path)
        run = relay_cmd(config_path, "run", timeout=30)
        assert logins.tries == [] and server.mail_from == []
    reason = deferred_reason(result)
    assert "mode 0640" in reason and "chmod 600" in reason
    assert check.exit_code == 1 and "mode 0640" in check.stdout
    assert run.returncode == 2 and "chmod 600" in run.stderr
    assert PASSWORD not in reason + check.stdout + run.stdout + run.stderr


def test_535_defers_with_login_refused_and_makes_relay_status_exit_1(tmp_path, ca, monkeypatch):
    monkeypatch.setenv("SMARTHOST_PASSWORD", "not the password")
    with FaultyServer(tls=tls_context(ca), authenticator=Logins()) as server:
        config_path = smarthost_config(tmp_path, server.port, ca, tls="starttls", username=USER,
                                       password_env="SMARTHOST_PASSWORD")
        config, history = defer_once(config_path)
        status = relay_cli(config_path, "status")
        assert server.mail_from == []
    attempt = history.attempts[0]
    assert attempt.code == 535 and "login refused" in attempt.reply and USER in attempt.reply
    assert files(config.relay.queue_dir / "badmail") == []   # a setup failure never bounces mail
    assert status.exit_code == 1 and "smart host not usable: login refused" in status.stdout


def test_auth_over_plaintext_is_refused_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTHOST_PASSWORD", PASSWORD)
    logins = Logins()
    with FaultyServer(authenticator=logins, auth_require_tls=False) as server:
        keys = {"username": USER, "password_env": "SMARTHOST_PASSWORD"}
        refused = send_one(smarthost_config(tmp_path, server.port, **keys))
        assert logins.tries == [] and server.mail_from == []
        check_refused = relay_check(tmp_path / "config.toml")
        allowed_path = smarthost_config(tmp_path, server.port, allow_plaintext_auth=True, **keys)
        allowed = send_one(allowed_path)
        tries = list(logins.tries)
        check_allowed = relay_check(allowed_path)
    assert "AUTH over a plaintext connection refused" in deferred_reason(refused)
    assert check_refused.exit_code == 1 and "allow_plaintext_auth" in check_refused.stdout
    assert allowed.recipients(Outcome.SENT) == ["user@example.test"] and tries == [("PLAIN", USER)]
    assert check_allowed.exit_code == 0
    assert ("WARNING  smart host security: [relay.smarthost] allow_plaintext_auth = true"
            in check_allowed.stdout)


def test_the_password_never_shows_in_logs_or_admin_output(tmp_path, ca, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="relay")
    monkeypatch.setenv("SMARTHOST_PASSWORD", PASSWORD)
    logins = Logins(refuse=True)
    with FaultyServer(tls=tls_context(ca), authenticator=logins) as server:
        config_path = smarthost_config(tmp_path, server.port, ca, tls="starttls", username=USER,
                                       password_env="SMARTHOST_PASSWORD")
        config, _ = defer_once(config_path)
        queue_id = files(config.relay.queue_dir / DEFERRED)[0].name.split(".")[0]
        outputs = [relay_cli(config_path, *args).output for args in (
            ("status",), ("status", "--json"), ("check",), ("list",), ("list", "--json"),
            ("show", queue_id))]
        logins.refuse = False
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["sent"] == 1, what="the delivery once the login works")
        outputs += [relay_cli(config_path, "check").output, relay_cli(config_path, "status").output]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("relay"))
    assert "login refused" in logged and "status=sent" in logged
    assert "login refused" in outputs[3] and "login refused" in outputs[5]   # list and show say why
    for text in [logged, *outputs]:
        assert PASSWORD not in text


def test_over_verified_starttls_a_message_sent_ahead_of_a_refused_one_arrives_once(tmp_path, ca):
    # Sending the next message's commands behind the final dot, as deployed: over STARTTLS,
    # the certificate checked, a temporary refusal in the middle of a backlog.
    faults = Faults(pipelining=True, data_replies={"later@example.test": "451 4.3.0 try later"})
    with FaultyServer(faults, tls=tls_context(ca), require_starttls=True) as server:
        path = smarthost_config(tmp_path, server.port, ca, tls="starttls")
        config = load_config(path)
        config = dataclasses.replace(config, relay=dataclasses.replace(config.relay, connections=1))
        for n in range(8):
            drop_notification(config, n, to=["later@example.test"] if n == 3 else None)
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["sent"] == 7 and relay.counts["deferred"] == 1,
                       what="seven sent, one deferred")
    assert sorted(r.recipients[0] for r in server.received) == sorted(
        f"user{n}@example.test" for n in range(8) if n != 3)
    assert all(r.tls in ("TLSv1.2", "TLSv1.3") for r in server.received)
    assert not any(b"\nRSET" in r.content or b"\nMAIL FROM:" in r.content for r in server.received)
