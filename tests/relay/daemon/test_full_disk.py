"""A full or nearly full disk under pickup and the queue: warned before, survived during.

Each test mounts a real tmpfs of a few hundred KB (root only) holding pickup and the queue.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time

from relay.queue.folders import Queue
from settings import load_config
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    fill_disk,
    message_ids,
    place_queued,
    relay_cli,
    relay_config_file,
    start_relay,
    wait_until,
)
from tests.spooler.test_truncation import with_attachment

GOOD = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: %s\r\n\r\nbody\r\n"


def disk_config(tmp_path, small_disk, port: int, kilobytes: int = 512, **relay):
    """A config.toml in tmp_path whose pickup and queue, made, are on a fresh small tmpfs."""
    disk = small_disk(kilobytes)
    config_path = relay_config_file(tmp_path, port, pickup={"dir": disk / "pickup"},
                                    queue_dir=disk / "queue", **relay)
    Queue(disk / "queue", disk / "pickup").create()
    return disk, config_path


def test_check_and_status_warn_when_the_pickup_filesystem_is_nearly_full(tmp_path, small_disk,
                                                                          upstream):
    _disk, config_path = disk_config(tmp_path, small_disk, upstream.port)
    check = relay_cli(config_path, "check")
    assert check.exit_code == 0, check.output  # a warning: nothing is wrong yet
    assert "WARNING  disk space: " in check.output and "free of 524.3 KB" in check.output
    assert "under 100.0 MB" in check.output and "fix: " in check.output

    status = relay_cli(config_path, "status")
    assert status.exit_code == 1
    attention = status.output.split("needs attention:")[1]
    assert "pickup filesystem nearly full" in attention and "free of 524.3 KB" in attention
    report = json.loads(relay_cli(config_path, "status", "--json").stdout)
    disk = report["disk"]
    assert disk["low"] is True and disk["total_bytes"] == 524288
    assert 0 < disk["free_bytes"] <= disk["total_bytes"] and disk["low_below_bytes"] == 100_000_000
    assert any("nearly full" in p for p in report["problems"])


def test_relay_drop_on_a_full_disk_refuses_the_message_and_leaves_nothing_cut_short(
        tmp_path, small_disk, upstream):
    disk, config_path = disk_config(tmp_path, small_disk, upstream.port, kilobytes=256)
    fill_disk(disk)
    message = tmp_path / "newsletter.eml"
    message.write_bytes(GOOD % b"long" + b"a line of the newsletter\r\n" * 4000)  # ~100 KB
    result = relay_cli(config_path, "drop", str(message))
    assert result.exit_code == 1
    assert "no space left for the message" in result.stderr and "nothing was written" in result.stderr
    assert list((disk / "pickup").iterdir()) == []  # not even a hidden temporary file


def test_relay_starts_and_delivers_when_the_queue_disk_is_full(tmp_path, small_disk, upstream):
    disk, config_path = disk_config(tmp_path, small_disk, upstream.port, processes=2)
    config = load_config(config_path)
    for n in range(5):
        drop_notification(config, n)
    fill_disk(disk)
    log = tmp_path / "relay.log"  # outside the full disk
    relay = start_relay(config_path, log)
    try:
        wait_until(lambda: len(upstream.received) == 5 or relay.poll() is not None, timeout=30,
                   what="the five waiting messages delivered")
        assert relay.poll() is None, log.read_text()
    finally:
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0
    text = log.read_text()
    assert len(set(message_ids(upstream.received))) == 5
    assert "cannot write the pid file" in text and "No space left on device" in text
    assert "running without it" in text
    assert "Traceback" not in text and "died" not in text  # no child died and was restarted
    assert not files(disk / "pickup") and not files(disk / "queue" / "active")


def test_a_full_disk_while_deferring_names_the_cause_and_loses_nothing(tmp_path, small_disk, upstream,
                                                                        caplog):
    upstream.faults.rcpt_replies["user0@example.test"] = "451 4.3.0 try again later"
    disk, config_path = disk_config(tmp_path, small_disk, upstream.port)
    config = load_config(config_path)
    drop_notification(config, 0)
    ballast = fill_disk(disk)
    with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config) as relay:
        wait_until(lambda: "no space left on device" in caplog.text, what="the full disk logged")
        wait_until(lambda: files(disk / "queue" / "deferred"), what="the message put back")
        upstream.faults.rcpt_replies.clear()
        ballast.unlink()  # space returns
        (queued,) = files(disk / "queue" / "deferred")
        os.utime(queued, (0, 0))  # due now, not in a minute
        relay.flush()
        wait_until(lambda: relay.counts["sent"] == 1, what="the message delivered once space returned")
    lines = [r.getMessage() for r in caplog.records if "no space left on device" in r.getMessage()]
    assert lines and all("meta/" in line or "deferred/" in line for line in lines), lines
    assert not any(r.exc_info for r in caplog.records), "a traceback was logged"
    assert "unexpected error" not in caplog.text
    assert len(upstream.received) == 1 and b"Message number 0." in upstream.received[0].content


def test_a_full_disk_while_moving_to_badmail_keeps_both_messages_and_the_relay_running(
        tmp_path, small_disk, upstream, caplog):
    upstream.faults.rcpt_replies["user0@example.test"] = "550 5.1.1 no such user"
    disk, config_path = disk_config(tmp_path, small_disk, upstream.port)
    config = load_config(config_path)
    drop_notification(config, 0)
    os.symlink("/etc/hostname", disk / "pickup" / "link.eml")
    ballast = fill_disk(disk)
    with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config) as relay:
        wait_until(lambda: caplog.text.count("no space left on device for") >= 2,
                   what="both reason files named as what could not be written")
        time.sleep(0.5)  # the dispatcher keeps going: one more pass at least
        assert relay.started.is_set() and not relay.work.stopping.is_set()
        (queued,) = files(disk / "queue" / "deferred")  # put back, not retried at once
        assert 50 < queued.stat().st_mtime - time.time() <= 60
        assert (disk / "pickup" / "link.eml").is_symlink()  # left where it was
    assert "put back in deferred/, tried again in 60s" in caplog.text
    assert "badmail/" in caplog.text and "link.eml" in caplog.text
    assert not any(r.exc_info for r in caplog.records), "a traceback was logged"
    assert not files(disk / "queue" / "badmail", "*.bdr")  # no reason without its message
    ballast.unlink()
    os.utime(queued, (0, 0))
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 2, what="both in badmail once space returned")
    assert len(files(disk / "queue" / "badmail", "*.bdr")) == 2


def test_requeue_badmail_on_a_full_disk_says_why_and_leaves_the_message_in_badmail(
        tmp_path, small_disk, upstream):
    disk, config_path = disk_config(tmp_path, small_disk, upstream.port)
    queue_id = place_queued(load_config(config_path), "badmail")
    fill_disk(disk)
    result = relay_cli(config_path, "requeue-badmail", queue_id)
    assert result.exit_code == 1
    assert f"not requeued: {queue_id}: left in badmail/: No space left on device" in result.stderr
    assert [p.name for p in files(disk / "queue" / "badmail")] == [f"{queue_id}.eml"]
    assert list((disk / "queue" / "meta").iterdir()) == []  # no history for an id never used


def test_a_hand_copy_cut_short_by_a_full_disk_goes_to_badmail_as_truncated_not_to_the_host(
        tmp_path, small_disk, upstream, caplog):
    """`cp` into pickup on a disk that fills half-way leaves a cut file that stands still: after
    the settle time the relay used to send it (290,760 of 576,150 bytes)."""
    disk, config_path = disk_config(tmp_path, small_disk, upstream.port)
    config = load_config(config_path)
    whole = tmp_path / "report.eml"
    whole.write_bytes(with_attachment(420_000))                    # ~576 KB, off the small disk
    ballast = disk / "ballast"
    ballast.write_bytes(b"\0" * 160_000)                           # what the sysadmin frees later
    copy = subprocess.run(["cp", str(whole), str(disk / "pickup" / "report.eml")],
                          capture_output=True, text=True, timeout=30, check=False)
    assert copy.returncode != 0 and "No space left on device" in copy.stderr
    cut = (disk / "pickup" / "report.eml").stat().st_size
    assert 100_000 < cut < whole.stat().st_size
    ballast.unlink()                                               # room for the badmail reason
    with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] + relay.counts["sent"] >= 1, timeout=30,
                   what="the cut file taken, once it stood still")
    assert upstream.received == []
    [reason] = files(disk / "queue" / "badmail", "*.bdr")
    text = reason.read_text()
    assert "looks truncated: " in text and "--" in text              # the missing closing boundary
    [kept] = files(disk / "queue" / "badmail")
    assert kept.stat().st_size == cut                              # kept as it came, for a look
