"""`relay sendmail` as cron and PHP's mail() use it: a real shell pipe into pickup, then to the smart host."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from settings import load_config
from spooler.envelope import parse_pickup
from tests.ports import free_port
from tests.relay.relay_helpers import RELAY_BIN, RunningRelay, relay_config_file, wait_until
from tests.smtp_servers import FaultyServer, RecordingServer

# printf formats: \n is a newline, \000 a NUL; no % in them.
HEADERS = (r"From: Site <site@example.test>\nTo: Ann <ann@example.test>\nCc: bob@example.test\n"
           r"Bcc: hidden@example.test\nSubject: cron report\n\n")
MESSAGE = HEADERS + r"All fine.\n"


def sendmail(config_path, printf_format: str, *args: str) -> subprocess.CompletedProcess:
    command = (f"printf {shlex.quote(printf_format)} | {shlex.quote(str(RELAY_BIN))} "
               f"--config {shlex.quote(str(config_path))} sendmail {shlex.join(args)}")
    return subprocess.run(command, shell=True, capture_output=True, timeout=30, check=False)


@pytest.fixture
def config_path(tmp_path):
    return relay_config_file(tmp_path, free_port())  # nothing is sent: pickup is the end here


def in_pickup(config_path) -> list[bytes]:
    """Every file in pickup (temporary ones too: a failed write must leave none)."""
    return [p.read_bytes() for p in sorted((config_path.parent / "pickup").iterdir())]


def test_t_puts_to_cc_and_bcc_in_the_envelope_and_the_message_after_it_unchanged(config_path):
    result = sendmail(config_path, MESSAGE, "-t")
    assert result.returncode == 0, result.stderr
    [data] = in_pickup(config_path)
    assert data == (b"X-Sender: <site@example.test>\r\nX-Receiver: <ann@example.test>\r\n"
                    b"X-Receiver: <bob@example.test>\r\nX-Receiver: <hidden@example.test>\r\n"
                    + MESSAGE.replace(r"\n", "\n").encode())
    parsed = parse_pickup(data)
    assert parsed.sender == "site@example.test"
    assert parsed.recipients == ("ann@example.test", "bob@example.test", "hidden@example.test")


def test_f_sets_the_envelope_sender(config_path):
    result = sendmail(config_path, MESSAGE, "-t", "-f", "bounces@example.test")
    assert result.returncode == 0, result.stderr
    [data] = in_pickup(config_path)
    assert parse_pickup(data).sender == "bounces@example.test"
    assert b"From: Site <site@example.test>" in data  # the header is the author's, untouched


def test_recipients_on_the_command_line_without_t_are_the_whole_envelope(config_path):
    result = sendmail(config_path, MESSAGE, "carol@example.test", "dave@example.test")
    assert result.returncode == 0, result.stderr
    [data] = in_pickup(config_path)
    assert parse_pickup(data).recipients == ("carol@example.test", "dave@example.test")


def test_no_recipients_exits_1_and_leaves_pickup_empty(config_path):
    result = sendmail(config_path, MESSAGE)
    assert result.returncode == 1
    assert b"message not queued: no recipients" in result.stderr
    assert in_pickup(config_path) == []


@pytest.mark.parametrize(("flags", "dot_ends_input"), [
    ((), True), (("-i",), False), (("-oi",), False)], ids=["plain", "-i", "-oi"])
def test_a_lone_dot_line_ends_input_unless_i(config_path, flags, dot_ends_input):
    result = sendmail(config_path, HEADERS + r"first\n.\nsecond\n", "-t", *flags)
    assert result.returncode == 0, result.stderr
    [data] = in_pickup(config_path)
    if dot_ends_input:
        assert data.endswith(b"\n\nfirst\n")
    else:
        assert data.endswith(b"\n\nfirst\n.\nsecond\n")


def test_piped_mail_reaches_the_smart_host_with_bcc_in_the_envelope_only(tmp_path):
    with FaultyServer() as upstream:
        config_path = relay_config_file(tmp_path, upstream.port)
        with RunningRelay(load_config(config_path)):
            body = r"All fine.\n.\n..two dots\n"
            result = sendmail(config_path, HEADERS + body, "-t", "-i", "-f", "cron@example.test")
            assert result.returncode == 0, result.stderr
            wait_until(lambda: upstream.received, what="the piped message")
        [got] = upstream.received
    assert got.sender == "cron@example.test"
    assert got.recipients == ["ann@example.test", "bob@example.test", "hidden@example.test"]
    assert b"Bcc" not in got.content and b"hidden@example.test" not in got.content
    assert got.content == (b"From: Site <site@example.test>\nTo: Ann <ann@example.test>\n"
                           b"Cc: bob@example.test\nSubject: cron report\n\nAll fine.\n.\n..two dots\n")


def test_a_message_the_relay_could_never_send_is_refused_at_the_pipe(config_path):
    result = sendmail(config_path, r"To: ann@example.test\nthis line is no header\n\nbody\n", "-t")
    assert result.returncode == 1
    assert in_pickup(config_path) == []


def pipe(config_path, message: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RELAY_BIN), "--config", str(config_path), "sendmail", *args],
                          input=message, capture_output=True, timeout=30, check=False)


def test_what_mail_programs_pipe_in_is_whole_and_placed(config_path):
    """Plain text without MIME, a multipart with a base64 attachment, with bare LF line ends
    as PHP writes them: none of it looks truncated."""
    from tests.spooler.test_truncation import single_base64, with_attachment
    plain = MESSAGE.replace(r"\n", "\n").encode()
    for message in (plain, with_attachment(5000).replace(b"\r\n", b"\n"),
                    single_base64(b"%PDF-1.7" * 300, b"\n")):
        result = pipe(config_path, message, "-t", "-i")
        assert result.returncode == 0, result.stderr
    assert len(in_pickup(config_path)) == 3


def test_a_multipart_cut_by_a_lone_dot_line_is_refused_as_truncated_not_sent_cut(config_path):
    from tests.spooler.test_truncation import with_attachment
    whole = with_attachment(5000)
    cut_by_dot = whole.replace(b"attached.\r\n", b"attached.\r\n.\r\nand more\r\n", 1)
    result = pipe(config_path, cut_by_dot, "-t")           # no -i: the dot ends the input
    assert result.returncode == 1
    assert b"message not queued: looks truncated: its multipart body has no closing" in result.stderr
    assert in_pickup(config_path) == []
    assert pipe(config_path, cut_by_dot, "-t", "-i").returncode == 0   # with -i it is whole


# A message whose first lines try to set the envelope (as PHP's mail() with a crafted body could).
FORGED = (r"X-Receiver: <extra@evil.example>\nX-Sender: <spoofed@bank.example>\n"
          r"From: Cron Daemon <cron@example.com>\nTo: root@example.com\nSubject: cron report\n\n"
          r"All fine.\n")


def test_envelope_lines_at_the_top_of_the_message_are_removed_with_a_warning(config_path):
    result = sendmail(config_path, FORGED, "-f", "cron@example.com", "-i", "root@example.com")
    assert result.returncode == 0, result.stderr
    assert b"removed 2 X-Sender/X-Receiver lines from the top of the message" in result.stderr
    [data] = in_pickup(config_path)
    assert data == (b"X-Sender: <cron@example.com>\r\nX-Receiver: <root@example.com>\r\n"
                    + FORGED.replace(r"\n", "\n").encode().split(b"\n", 2)[2])


@pytest.mark.parametrize("args", [("-f", "cron@example.com", "-i", "root@example.com"), ("-t", "-i")],
                         ids=["-f and a recipient", "-t"])
def test_the_piped_message_cannot_add_a_recipient_or_change_the_sender(tmp_path, args):
    with RecordingServer() as server:
        config_path = relay_config_file(tmp_path, server.port)
        with RunningRelay(load_config(config_path)) as relay:
            result = sendmail(config_path, FORGED, *args)
            assert result.returncode == 0, result.stderr
            wait_until(lambda: relay.counts["sent"] == 1, what="the piped message")
    [sent] = server.received()
    assert (sent.sender, sent.recipients) == ("cron@example.com", ["root@example.com"])
    envelope = [c for c in server.commands if c[:4].upper() in (b"MAIL", b"RCPT")]
    assert envelope == [b"MAIL FROM:<cron@example.com>", b"RCPT TO:<root@example.com>"]
    assert b"evil.example" not in b"".join(server.commands) + sent.data
    assert b"spoofed@bank.example" not in b"".join(server.commands) + sent.data


def test_a_nul_in_the_message_is_refused_at_the_pipe(config_path):
    result = sendmail(config_path, HEADERS + r"bo\000dy\n", "-t", "-i")
    assert result.returncode == 1
    assert b"message not queued: line 11 contains a NUL byte" in result.stderr  # of the pickup file
    assert in_pickup(config_path) == []
