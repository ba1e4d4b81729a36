"""relay.sink: the catch-all SMTP server on loopback storing into a Maildir, and the `relay sink` command."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trustme

from relay.sink.maildir import Maildir
from relay.sink.server import Sink, server_context
from tests.configs import config_file
from tests.ports import free_port

RELAY = Path(sys.executable).parent / "relay"

MESSAGE = (
    b"From: Site <noreply@example.test>\r\n"
    b"To: Ann <ann@example.test>, bob@example.test\r\n"
    b"Subject: Welcome\r\n"
    b"\r\n"
    b"Hello Ann,\r\n"
    b".a line that starts with a dot\r\n"
    b"..and one with two\r\n"
    b".\r\n"
    b"caf\xc3\xa9 \xe2\x80\x94 8-bit UTF-8 in the body\r\n"
)


def smtp(server: Sink) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, local_hostname="localhost", timeout=10)


def lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def test_sink_keeps_the_envelope_including_a_recipient_not_in_to(sink):
    recipients = ["ann@example.test", "bob@example.test", "hidden@example.test"]
    with smtp(sink) as client:
        refused = client.sendmail("bounce@example.test", recipients, MESSAGE,
                                  mail_options=["BODY=8BITMIME"])
    assert refused == {}
    [stored] = sink.maildir.messages()
    assert stored.sender == "bounce@example.test"
    assert stored.recipients == tuple(recipients)


def test_sink_stores_the_body_as_sent_with_dot_lines_and_8bit_utf8(sink):
    with smtp(sink) as client:
        client.sendmail("noreply@example.test", ["ann@example.test"], MESSAGE,
                        mail_options=["BODY=8BITMIME"])
    [stored] = sink.maildir.messages()
    assert stored.content == lf(MESSAGE)  # dot-stuffing undone, line ends made LF
    assert b"\ncaf\xc3\xa9 \xe2\x80\x94 8-bit" in stored.content
    assert stored.path.parent == sink.maildir.root / "new"


def test_several_messages_over_one_connection_are_stored_separately(sink):
    with smtp(sink) as client:
        for n in range(3):
            body = f"From: a@example.test\r\nTo: r{n}@example.test\r\nSubject: {n}\r\n\r\nbody {n}\r\n"
            client.sendmail("a@example.test", [f"r{n}@example.test"], body.encode())
            client.rset()
    stored = sink.maildir.messages()
    assert [m.recipients for m in stored] == [(f"r{n}@example.test",) for n in range(3)]
    assert [m.content.splitlines()[-1] for m in stored] == [b"body 0", b"body 1", b"body 2"]
    assert sink.maildir.count() == 3
    assert not os.listdir(sink.maildir.root / "tmp")  # every file went through tmp/ to new/


def test_null_sender_reads_back_as_empty(sink):
    with smtp(sink) as client:
        client.sendmail("", ["postmaster@example.test"], b"Subject: bounce\r\n\r\nx\r\n")
    [stored] = sink.maildir.messages()
    assert stored.sender == ""
    assert stored.recipients == ("postmaster@example.test",)


def test_on_message_gets_one_log_line_per_message(tmp_path):
    lines: list[str] = []
    with Sink(tmp_path / "md", on_message=lines.append) as server, smtp(server) as client:
        client.sendmail("a@example.test", ["b@example.test", "c@example.test"], MESSAGE)
    [line] = lines
    assert "from=<a@example.test>" in line
    assert "to=<b@example.test,c@example.test>" in line
    assert f"size={len(MESSAGE)}" in line


def test_stopped_sink_no_longer_accepts_connections(tmp_path):
    server = Sink(tmp_path / "md").start()
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=2).close()


# Legacy latin-1 mail is stored as it came and still reads back.
def test_message_with_a_latin1_first_header_reads_back(sink):
    message = b"Subject: caf\xe9\r\nTo: b@example.test\r\n\r\nlatin-1 mail\r\n"
    with smtp(sink) as client:
        client.sendmail("a@example.test", ["b@example.test"], message)
    [stored] = sink.maildir.messages()
    assert stored.sender == "a@example.test"
    assert stored.content == lf(message)


# --- `relay sink` as a real process -----------------------------------------------------------

def wait_until(condition, proc: subprocess.Popen, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"relay sink exited with {proc.returncode} while waiting for {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def start_sink(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    config = config_file(tmp_path, sink={"host": "127.0.0.1", "maildir": "config-maildir"})
    out = tmp_path / "sink.out"
    env = {k: v for k, v in os.environ.items() if k != "PICKUP_RELAY_CONFIG"}
    with open(out, "wb") as stdout, open(tmp_path / "sink.err", "wb") as stderr:
        proc = subprocess.Popen([str(RELAY), "--config", str(config), "sink", *args],
                                cwd=tmp_path, env=env, stdout=stdout, stderr=stderr)
    return proc, out


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_relay_sink_command_logs_each_message_and_stops_cleanly(tmp_path, signum):
    port = free_port()
    maildir = tmp_path / "cli-maildir"
    proc, out = start_sink(tmp_path, "--port", str(port), "--maildir", str(maildir))
    try:
        wait_until(lambda: accepts_connections(port), proc, f"port {port}")
        with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
            client.sendmail("a@example.test", ["b@example.test", "c@example.test"], MESSAGE)
        wait_until(lambda: b"sink: from=" in out.read_bytes(), proc, "the message log line")
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 0  # a loaded machine stops slower, never hangs
    finally:
        stop(proc)
    lines = out.read_text().splitlines()
    assert lines[0] == f"sink: listening on 127.0.0.1:{port}, storing in {maildir}/new"
    [logged] = [line for line in lines if line.startswith("sink: from=")]
    assert "from=<a@example.test> to=<b@example.test,c@example.test>" in logged
    assert lines[-1] == "sink: stopped"
    [stored] = Maildir(maildir).messages()  # --maildir wins over [sink] maildir
    assert stored.content == lf(MESSAGE)
    assert not (tmp_path / "config-maildir").exists()


# --- TLS ------------------------------------------------------------------------------------

@pytest.fixture
def certificate(tmp_path):
    """cert.pem and key.pem for 127.0.0.1, and a client context that trusts only their CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return tmp_path / "cert.pem", tmp_path / "key.pem", client


def test_sink_with_a_certificate_requires_starttls(tmp_path, certificate):
    cert, key, client_context = certificate
    with Sink(tmp_path / "sink", tls_context=server_context(cert, key)) as server:
        with smtp(server) as client:
            assert client.ehlo()[0] == 250 and client.has_extn("starttls")
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("a@example.test", ["b@example.test"], MESSAGE)
            assert refused.value.smtp_code == 530
        with smtp(server) as client:
            client.starttls(context=client_context)
            client.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        assert server.maildir.count() == 1


def test_sink_with_implicit_tls_speaks_tls_from_the_first_byte(tmp_path, certificate):
    cert, key, client_context = certificate
    with Sink(tmp_path / "sink", tls_context=server_context(cert, key), implicit_tls=True) as server:
        with smtplib.SMTP_SSL(server.host, server.port, local_hostname="localhost", timeout=10,
                              context=client_context) as client:
            client.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        [stored] = server.maildir.messages()
    assert stored.content == lf(MESSAGE)


def test_relay_sink_command_with_tls_cert_and_key_requires_starttls(tmp_path, certificate):
    cert, key, client_context = certificate
    port = free_port()
    proc, out = start_sink(tmp_path, "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        wait_until(lambda: accepts_connections(port), proc, f"port {port}")
        with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
            client.starttls(context=client_context)
            client.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        wait_until(lambda: b"sink: from=" in out.read_bytes(), proc, "the message log line")
    finally:
        stop(proc)
    first = out.read_text().splitlines()[0]
    assert first.startswith(f"sink: listening on 127.0.0.1:{port}, STARTTLS required")


def test_relay_sink_command_refuses_a_certificate_without_its_key(tmp_path, certificate):
    proc = subprocess.run([str(RELAY), "--config", str(config_file(tmp_path)), "sink",
                           "--tls-cert", str(certificate[0])], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--tls-key" in proc.stderr
