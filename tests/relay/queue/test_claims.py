"""Claims keep the queue private and read only what a writer could read: copies of other users'
files, refused hard links, 0700/0600 modes, names escaped in reasons, `relay show` on odd files."""

from __future__ import annotations

import logging
import os
import signal
import stat
import time

import pytest

from relay.daemon.relay import Relay
from relay.queue.claims import claim_from_pickup
from relay.queue.folders import ACTIVE, BADMAIL, DEFERRED, Queue
from relay.smtp.client import SmtpConnection
from settings import load_config
from tests.configs import config_file
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    relay_cli,
    relay_config,
    relay_config_file,
    wait_until,
)

GOOD = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: %s\r\n\r\nbody\r\n"
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file another owner")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode)


def reason_files(config) -> list[str]:
    return [p.read_text() for p in files(config.relay.queue_dir / BADMAIL, "*.bdr")]


def test_queue_folders_are_private_and_a_claimed_file_is_0600(tmp_path, upstream):
    upstream.faults.rcpt_replies["b@example.test"] = "451 4.3.0 try later"
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1h"])
    (config.pickup.dir / "open.eml").write_bytes(GOOD % b"world-readable")
    os.chmod(config.pickup.dir / "open.eml", 0o644)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["deferred"] == 1, what="the message deferred")
    queue = config.relay.queue_dir
    assert {p.name: mode(p) for p in [queue, *queue.iterdir()] if p.is_dir()} == {
        name: 0o700 for name in ("queue", "active", "deferred", "hold", "badmail", "sent", "meta", "pids")}
    (queued,) = files(queue / "deferred")
    assert mode(queued) == 0o600
    assert all(mode(p) == 0o600 for p in (queue / "meta").iterdir())


def test_a_hard_linked_pickup_file_goes_to_badmail_unread_and_unsent(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    secret = tmp_path / "secret.eml"
    secret.write_bytes(GOOD % b"the secret")
    os.link(secret, config.pickup.dir / "planted.eml")
    (config.pickup.dir / "good.eml").write_bytes(GOOD % b"good")
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 1 and relay.counts["sent"] == 1,
                   what="one badmail, one sent")
    assert [r.content.split(b"\n")[2] for r in upstream.received] == [b"Subject: good"]
    (reason,) = reason_files(config)
    assert "hard link" in reason and "planted.eml" in reason
    assert secret.read_bytes() == GOOD % b"the secret"
    (kept,) = files(config.relay.queue_dir / BADMAIL)
    listed = relay_cli_for(config, "show", kept.name.split(".")[0])
    assert listed.exit_code == 0, listed.output
    assert "the secret" not in listed.output and "hard link" in listed.output


def relay_cli_for(config, *args: str):
    """`relay ARGS...` on a config.toml naming the same pickup and queue as `config`."""
    path = config_file(config.base_dir, pickup={"dir": config.pickup.dir},
                       relay={"queue_dir": config.relay.queue_dir})
    return relay_cli(path, *args)


def test_a_pickup_name_with_a_newline_is_written_escaped_in_the_reason(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    os.mkfifo(config.pickup.dir / "x\nreason: all fine.eml")
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 1, what="the fifo moved to badmail")
    (reason,) = reason_files(config)
    assert "pickup file: x\\nreason: all fine.eml" in reason
    assert [line for line in reason.splitlines() if line.startswith("reason:")] == [
        "reason: not a regular file (a fifo): not read"]


@pytest.mark.parametrize("kind", ["symlink", "folder"])
def test_show_on_a_symlink_or_folder_in_badmail_says_it_was_never_read(tmp_path, kind):
    config = relay_config(tmp_path, 1)
    queue = Queue.from_config(config)
    queue.create()
    queue_id = "0" * 14 + "abcdef0123"
    target = queue.dirs[BADMAIL] / f"{queue_id}.eml"
    if kind == "symlink":
        os.symlink(target, target)  # a loop: "Too many levels of symbolic links" when followed
    else:
        target.mkdir()
    result = relay_cli_for(config, "show", queue_id)
    assert result.exit_code == 0, result.output
    assert "never read" in result.output
    listed = relay_cli_for(config, "list", "--folder", "badmail")
    assert listed.exit_code == 0 and queue_id in listed.output


def test_check_names_a_queue_open_to_others_and_a_pickup_without_the_sticky_bit(tmp_path):
    config = relay_config(tmp_path, 1)
    Queue.from_config(config).create()
    os.chmod(config.relay.queue_dir / "deferred", 0o750)
    os.chmod(config.pickup.dir, 0o2770)
    result = relay_cli_for(config, "check")
    assert result.exit_code == 1
    assert "PROBLEM  queue modes" in result.output and "deferred is mode 0750" in result.output
    assert "PROBLEM  pickup modes" in result.output and "chmod +t" in result.output
    os.chmod(config.relay.queue_dir / "deferred", 0o700)
    os.chmod(config.pickup.dir, 0o3770)
    result = relay_cli_for(config, "check")
    assert "ok       queue modes" in result.output and "ok       pickup modes" in result.output


@root_only
def test_another_users_file_is_copied_into_a_private_queue_file_and_its_original_removed(
        tmp_path, upstream):
    upstream.faults.rcpt_replies["user0@example.test"] = "451 4.3.0 try later"
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1h"])
    written = drop_notification(config)
    os.chown(written, 65534, 65534)  # nobody's: the relay may read it, not link or re-date it
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["deferred"] == 1, what="the copy deferred")
    assert not written.exists()
    (queued,) = files(config.relay.queue_dir / "deferred")
    st = os.stat(queued)
    assert (st.st_uid, stat.S_IMODE(st.st_mode), st.st_nlink) == (0, 0o600, 1)
    assert st.st_mtime > time.time() + 3000  # its next try, an hour away, is the copy's mtime
    upstream.faults.rcpt_replies.clear()
    os.utime(queued, (0, 0))
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 1, what="the retry delivered")
    assert b"Message number 0." in upstream.received[0].content


@root_only
def test_a_copy_left_half_made_by_a_crash_is_removed_and_its_original_still_sent(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    Queue.from_config(config).create()
    written = drop_notification(config)
    os.chown(written, 65534, 65534)
    half = config.relay.queue_dir / ACTIVE / f".{written.name}.tmp"
    half.write_bytes(written.read_bytes()[:100])
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 1, what="the original delivered")
    assert not half.exists()
    assert len(upstream.received) == 1 and b"Message number 0." in upstream.received[0].content



@root_only
def test_two_relays_copying_other_users_files_send_each_exactly_once(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    for n in range(200):
        os.chown(drop_notification(config, n), 65534, 65534)
    with RunningRelay(config) as first, RunningRelay(config) as second:
        wait_until(lambda: first.counts["sent"] + second.counts["sent"] == 200, timeout=60,
                   what="200 messages sent by the two relays")
    bodies = sorted(r.content.split(b"Message number ")[1].split(b".")[0] for r in upstream.received)
    assert bodies == sorted(str(n).encode() for n in range(200))  # each once, none twice
    assert not files(config.pickup.dir) and not list((config.relay.queue_dir / ACTIVE).iterdir())


def test_a_file_its_writer_appends_to_after_the_claim_is_put_back_uncounted_then_sent_whole(
        tmp_path, upstream, caplog):
    config = relay_config(tmp_path, upstream.port)
    head = GOOD % b"appended after the claim"
    path = config.pickup.dir / "slow.eml"
    path.write_bytes(head)
    writer = os.open(path, os.O_WRONLY | os.O_APPEND)  # a `cp` or `>>` still holding the file
    relay = Relay(config, settle=0.5)
    relay.queue.create()
    connection = SmtpConnection(config.relay.smarthost)
    try:
        claimed = claim_from_pickup(relay.queue, "slow.eml")
        assert claimed is not None and claimed.size == len(head)
        os.write(writer, b"the rest of the body\r\n")  # lands in the claimed file (one inode)
        with caplog.at_level(logging.INFO, logger="relay"):
            relay.agent.attempt({connection.config.label: connection}, claimed)
    finally:
        connection.close()
        os.close(writer)
    assert upstream.received == []
    (queued,) = files(config.relay.queue_dir / DEFERRED)
    assert 0 < os.stat(queued).st_mtime - time.time() <= 0.5  # due again after the settle time
    assert relay.queue.history(claimed.queue_id) is None    # no attempt counted
    assert "still being written" in caplog.text and "slow.eml" in caplog.text
    time.sleep(0.5)
    with RunningRelay(config) as running:
        wait_until(lambda: running.counts["sent"] == 1, what="the whole message sent")
    (received,) = upstream.received
    assert received.content.endswith(b"\nbody\nthe rest of the body\n")


@root_only
def test_another_users_file_that_changes_while_it_is_copied_stays_in_pickup_uncopied(tmp_path):
    queue = Queue(tmp_path / "queue", tmp_path / "pickup")
    queue.create()
    path = tmp_path / "pickup" / "growing.eml"
    path.write_bytes(GOOD % b"big" + (b"x" * 998 + b"\r\n") * 8000)  # ~8 MB: copied in over 0.5 ms
    os.chown(path, 65534, 65534)
    writer = os.open(path, os.O_WRONLY | os.O_APPEND)
    # The writer appends a line every 50 us of wall-clock time, signalled by the kernel, so
    # some line lands between the claim's look at the file and the end of the copy, however
    # this process is scheduled (a writer in another process could be descheduled throughout).
    previous = signal.signal(signal.SIGALRM, lambda *_: os.write(writer, b"still writing\r\n"))
    signal.setitimer(signal.ITIMER_REAL, 50e-6, 50e-6)
    try:
        claimed = claim_from_pickup(queue, "growing.eml")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(writer)
    assert claimed is None
    assert path.exists() and path.stat().st_uid == 65534  # the original, left for later
    assert list((queue.root / ACTIVE).iterdir()) == []     # no copy, whole or half


def test_check_without_the_smart_host_passes_while_it_is_down_but_not_with_a_bad_password(tmp_path):
    path = relay_config_file(tmp_path, 1, smarthost={"username": "relay@example.test",
                                                     "password_file": "secret", "tls": "starttls"})
    Queue.from_config(load_config(path)).create()
    (tmp_path / "secret").write_text("s3cret\n")
    os.chmod(tmp_path / "secret", 0o600)
    down = relay_cli(path, "check", "--no-smarthost")
    assert down.exit_code == 0, down.output
    assert "smart host: not checked" in down.output and "s3cret" not in down.output
    assert relay_cli(path, "check").exit_code == 1  # the full check does try the host
    os.chmod(tmp_path / "secret", 0o640)
    assert relay_cli(path, "check", "--no-smarthost").exit_code == 1
