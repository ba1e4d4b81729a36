"""A full or nearly full disk under pickup and the queue: warned before, survived during.

Each test mounts a real tmpfs of a few hundred KB (root only) holding pickup and the queue.
"""

from __future__ import annotations

import json

from relay.queue import Queue
from tests.relay.relay_helpers import fill_disk, relay_cli, write_relay_toml

GOOD = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: %s\r\n\r\nbody\r\n"


def disk_config(tmp_path, small_disk, port: int, kilobytes: int = 512, **kwargs):
    """A config.toml in tmp_path whose pickup and queue, made, are on a fresh small tmpfs."""
    disk = small_disk(kilobytes)
    config_path = write_relay_toml(tmp_path, port, pickup=disk / "pickup", queue=disk / "queue",
                                   **kwargs)
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
