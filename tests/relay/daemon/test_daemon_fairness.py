"""Faults a long run finds in the dispatcher and the watcher: retries starving behind a backlog,
a file appended in place taken half-way, a wrong mtime that expires or strands a message."""

from __future__ import annotations

import json
import os
import subprocess
import time

from relay.queue.folders import DEFERRED
from spooler.message import Address, Notification, build
from spooler.pickup import PickupWriter
from tests.relay.relay_helpers import (
    RunningRelay,
    files,
    place_queued,
    relay_cli,
    relay_config,
    relay_config_file,
    wait_until,
)


def test_due_retries_get_a_fair_share_while_a_backlog_keeps_pickup_full(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    retries = {place_queued(config, DEFERRED, to=(f"retry{n}@example.test",), due_in=-1)
               for n in range(20)}
    writer = PickupWriter(config.pickup.dir, durable=False)
    for n in range(600):
        path = writer.write(build(Notification(sender=Address("noreply@example.test"),
                                               to=[Address(f"new{n}@example.test")],
                                               subject=f"new {n}", text="hello\n")))
        os.utime(path, (time.time() - 60,) * 2)  # a backlog the first scan takes whole
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 620, timeout=60, what="all 620 sent")
    order = [r.recipients[0] for r in upstream.received]
    last_retry = max(order.index(f"retry{n}@example.test") for n in range(20))
    assert len(retries) == 20 and last_retry < 200  # not after the 600 new ones


def test_a_file_appended_in_place_once_a_second_goes_out_whole(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    path = config.pickup.dir / "x.eml"
    parts = ["From: cron@example.test", "To: admin@example.test", "Subject: appended", ""] + [
        f"line {n} of the nightly report, written by a script that appends" for n in range(12)]
    with RunningRelay(config, settle=2.0) as relay:  # the default settle time
        for chunk in range(6):  # `echo ... >> pickup/x.eml`, one second apart
            subprocess.run(["sh", "-c", f"printf '%s\\n' \"$@\" >> {path}", "sh",
                            *parts[chunk * 3:(chunk + 1) * 3]], check=True, timeout=10)
            time.sleep(1.0)
        wait_until(lambda: relay.counts["sent"] + relay.counts["badmail"] >= 1, timeout=10,
                   what="the file taken")
        time.sleep(0.5)
        assert (relay.counts["sent"], relay.counts["badmail"]) == (1, 0)
    (message,) = upstream.received
    assert message.content.rstrip(b"\n").endswith(b"line 11 of the nightly report, written by a "
                                                 b"script that appends")


def test_a_file_with_a_three_day_old_mtime_is_delivered_not_expired(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port, max_lifetime="2d")
    path = config.pickup.dir / "old.eml"
    path.write_bytes(b"From: a@example.test\r\nTo: b@example.test\r\nSubject: cp -p\r\n\r\nx\r\n")
    os.utime(path, (time.time() - 3 * 86400,) * 2)  # `cp -p`, `tar x`, a wrong clock
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 1, what="the old file delivered")
    assert relay.counts["badmail"] == 0 and len(upstream.received) == 1


def test_a_file_dated_a_day_ahead_is_delivered_and_status_is_clean(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    path = config.pickup.dir / "future.eml"
    path.write_bytes(b"From: a@example.test\r\nTo: b@example.test\r\nSubject: ahead\r\n\r\nx\r\n")
    os.utime(path, (time.time() + 86400,) * 2)  # a clock stepped back, `touch -d tomorrow`
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 1, timeout=10, what="the future-dated file sent")
    status = relay_cli(relay_config_file(tmp_path, upstream.port), "status", "--json")
    assert json.loads(status.output)["folders"]["pickup"]["count"] == 0
    assert not files(config.pickup.dir)


def test_a_relay_sharing_pickup_claims_its_own_half_first_then_helps_with_the_rest(tmp_path, upstream):
    """One of two processes (share 0 of 2), its sibling gone: the names that hash to it go out
    first, the sibling's after, and none is left behind."""
    import zlib

    config = relay_config(tmp_path, upstream.port)
    writer = PickupWriter(config.pickup.dir, durable=False)
    ours = set()
    for n in range(200):
        path = writer.write(build(Notification(sender=Address("noreply@example.test"),
                                               to=[Address(f"user{n}@example.test")],
                                               subject=f"n {n}", text="hello\n")))
        os.utime(path, (time.time() - 60,) * 2)  # a backlog the first scan takes whole
        if zlib.crc32(path.name.encode()) % 2 == 0:
            ours.add(f"user{n}@example.test")
    with RunningRelay(config, share=(0, 2)) as relay:
        wait_until(lambda: relay.counts["sent"] == 200, timeout=60, what="all 200 sent")
    order = [r.recipients[0] for r in upstream.received]
    assert 60 < len(ours) < 140 and len(set(order)) == 200
    # two connections: the last of ours and the first of theirs may cross at the boundary
    assert set(order[:len(ours) - 2]) <= ours and not set(order[len(ours) + 2:]) & ours
