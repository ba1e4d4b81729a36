"""`relay deliver-inbound [-f SENDER] RECIPIENT...` as an MTA's pipe runs it: a real process, the
message on standard input, sendmail's exit codes and one line on standard error."""

from __future__ import annotations

import os
import subprocess

import pytest

from spooler.envelope import parse_pickup
from tests.configs import config_file
from tests.ports import free_port
from tests.relay.relay_helpers import RELAY_BIN, fill_disk

LF_BOUNCE = (b"From: MAILER-DAEMON@mx.other.test\nSubject: Undelivered Mail\nMIME-Version: 1.0\n"
             b"Content-Type: text/plain\n\nSorry: gone@other.test does not exist.\n")


@pytest.fixture
def config_path(tmp_path):
    (tmp_path / "drop").mkdir()
    return config_file(tmp_path, inbound={"domains": ["ours.test"], "dir": "drop",
                                          "max_message_size": "2KB",
                                          "listen": f"127.0.0.1:{free_port()}"})


def deliver(config_path, *args: str, message: bytes = LF_BOUNCE) -> subprocess.CompletedProcess:
    return subprocess.run([str(RELAY_BIN), "deliver-inbound", "--config", str(config_path), *args],
                          input=message, capture_output=True, timeout=60, check=False)


def drop_files(config_path) -> list:
    return sorted((config_path.parent / "drop").iterdir())


def test_a_piped_bounce_is_stored_as_relay_receive_stores_it_with_crlf_and_exit_0(config_path):
    done = deliver(config_path, "-f", "", "--", "bounces+t0k3n@ours.test")
    assert (done.returncode, done.stderr) == (0, b"")
    [stored] = drop_files(config_path)
    data = stored.read_bytes()
    assert data.startswith(b"X-Sender: <>\r\nX-Receiver: <bounces+t0k3n@ours.test>\r\nReceived: by ")
    assert f"(Pickup Relay, from userid {os.getuid()})\r\n\tid {stored.stem}\r\n\tfor ".encode() in data
    assert data.endswith(LF_BOUNCE.replace(b"\n", b"\r\n"))
    assert parse_pickup(data).sender == ""


def test_several_recipients_and_a_sender_make_one_file(config_path):
    assert deliver(config_path, "-f", "member@other.test", "reply+a@ours.test",
                   "reply+b@Ours.Test").returncode == 0
    [stored] = drop_files(config_path)
    parsed = parse_pickup(stored.read_bytes())
    assert (parsed.sender, parsed.recipients) == ("member@other.test",
                                                  ("reply+a@ours.test", "reply+b@Ours.Test"))


def test_a_recipient_outside_the_domains_is_67_and_nothing_is_stored_for_any(config_path):
    done = deliver(config_path, "-f", "", "ok@ours.test", "someone@other.test")
    assert done.returncode == os.EX_NOUSER == 67
    assert done.stderr == b"5.7.1 <someone@other.test>: relay not permitted\n"
    assert drop_files(config_path) == []


@pytest.mark.parametrize(("args", "message", "said"), [
    (("bounces@ours.test",), LF_BOUNCE + b"x" * 2100, b"5.3.4 message larger than the 2,000-byte limit"),
    (("bounces@ours.test",), b"no header here\n\nbody\n", b"5.6.0 message not accepted: header line"),
    (("bounces@ours.test",), b"Subject: x\n\nNUL\0\n", b"5.6.0 message not accepted: line"),
    (("-f", '"a b"@other.test', "bounces@ours.test"), LF_BOUNCE, b"5.1.7 <\"a b\"@other.test>: sender")])
def test_a_message_that_will_never_do_is_65(config_path, args, message, said):
    done = deliver(config_path, *args, message=message)
    assert done.returncode == os.EX_DATAERR == 65 and done.stderr.startswith(said), done.stderr
    assert drop_files(config_path) == []


def test_usage_errors_are_64(config_path):
    assert deliver(config_path).returncode == os.EX_USAGE == 64
    assert deliver(config_path, "--bogus", "a@ours.test").returncode == 64


def test_a_missing_drop_folder_or_an_unreadable_config_is_75_so_the_mta_keeps_the_mail(config_path):
    (config_path.parent / "drop").rmdir()
    done = deliver(config_path, "bounces@ours.test")
    assert done.returncode == os.EX_TEMPFAIL == 75
    assert done.stderr.startswith(b"4.3.0 drop folder ") and b"does not exist" in done.stderr
    broken = config_path.parent / "broken.toml"
    broken.write_text("[inbound]\ndomains = 7\n")
    done = deliver(broken, "bounces@ours.test")
    assert done.returncode == 75 and done.stderr.startswith(b"4.3.5 config error: ")


def test_a_full_disk_is_75_and_leaves_nothing_then_the_retry_is_stored(tmp_path, small_disk):
    disk = small_disk(128)
    (disk / "drop").mkdir()
    path = config_file(tmp_path, inbound={"domains": ["ours.test"], "dir": str(disk / "drop")})
    ballast = fill_disk(disk)
    done = deliver(path, "bounces@ours.test", message=LF_BOUNCE * 20)
    assert done.returncode == 75 and b"no space left" in done.stderr
    assert list((disk / "drop").iterdir()) == []
    ballast.unlink()
    assert deliver(path, "bounces@ours.test", message=LF_BOUNCE * 20).returncode == 0
    assert len(list((disk / "drop").iterdir())) == 1
