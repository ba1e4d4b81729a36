"""The daemon never loses mail: bad input, half-written files, restarts, kills, rivals."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter

import pytest

from settings import load_config
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    log_count,
    message_ids,
    relay_config,
    relay_config_file,
    start_relay,
    wait_until,
)

GOOD = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: good %d\r\n\r\nbody\r\n"


def badmail_reasons(config) -> dict[str, str]:
    """pickup file name -> reason file text, for everything in badmail."""
    out = {}
    for bdr in files(config.relay.queue_dir / "badmail", "*.bdr"):
        text = bdr.read_text()
        source = next(line.split(": ", 1)[1] for line in text.splitlines()
                      if line.startswith("pickup file: "))
        out[source] = text
    return out


def test_hostile_files_go_to_badmail_with_a_reason_and_good_mail_still_flows(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    pickup = config.pickup.dir
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"From: a@example.test\nTo: b@example.test\n\nnot yours\n")
    (pickup / "good1.eml").write_bytes(GOOD % 1)
    (pickup / "empty.eml").write_bytes(b"")
    (pickup / "junk.eml").write_bytes(os.urandom(4096).replace(b":", b"!").replace(b"\0", b"!"))
    with open(pickup / "huge.eml", "wb") as f:
        f.write(b"From: a@example.test\r\nTo: b@example.test\r\n\r\n")
        f.write(b"x" * (30 * 1024 * 1024))
    os.symlink(outside, pickup / "link.eml")
    os.mkfifo(pickup / "fifo.eml")
    (pickup / "nobody.eml").write_bytes(b"From: a@example.test\r\nSubject: to no one\r\n\r\nx\r\n")
    (pickup / "good2.eml").write_bytes(GOOD % 2)

    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 6 and relay.counts["sent"] == 2,
                   timeout=20, what="six badmail, two sent")
    reasons = badmail_reasons(config)
    assert "empty file" in reasons["empty.eml"]
    assert "not a header" in reasons["junk.eml"]
    assert "too big" in reasons["huge.eml"] and "max_message_size" in reasons["huge.eml"]
    assert "symbolic link" in reasons["link.eml"]
    assert "fifo" in reasons["fifo.eml"]
    assert "no recipients" in reasons["nobody.eml"]
    assert sorted(r.content.split(b"\n")[2] for r in upstream.received) == [
        b"Subject: good 1", b"Subject: good 2"]
    assert outside.read_bytes().endswith(b"not yours\n")  # the link's target is untouched
    assert not list(pickup.iterdir())
    badmail = config.relay.queue_dir / "badmail"
    assert any(p.is_symlink() for p in badmail.iterdir())  # kept as the link it was


def test_a_file_cut_short_that_stands_still_goes_to_badmail_as_truncated_and_whole_ones_go_out(
        tmp_path, upstream):
    """A hand copy that stopped half-way stands still like a whole file: its structure, not
    the settle time, tells it is cut (tests/spooler/test_truncation.py has the rule)."""
    from tests.relay.daemon.test_metrics_ratelimit import metric
    from tests.spooler.test_truncation import single_base64, with_attachment
    config = relay_config(tmp_path, upstream.port, metrics_listen="127.0.0.1:0")
    pickup = config.pickup.dir
    attached, pdf = with_attachment(20_000), single_base64(os.urandom(1000))
    (pickup / "cut-attachment.eml").write_bytes(attached[:len(attached) // 2])
    (pickup / "cut-pdf.eml").write_bytes(pdf[:-5])
    (pickup / "attachment.eml").write_bytes(attached)
    (pickup / "pdf.eml").write_bytes(pdf)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 2 and relay.counts["sent"] == 2,
                   what="two cut files in badmail, two whole ones sent")
        assert metric(relay, "relay_badmail_total", reason="truncated") == 2
    reasons = badmail_reasons(config)
    assert "looks truncated: its multipart body has no closing boundary line --===" \
        in reasons["cut-attachment.eml"]
    assert "looks truncated: its base64 body has" in reasons["cut-pdf.eml"]
    assert sorted(len(r.content) for r in upstream.received) == sorted(
        len(m.replace(b"\r\n", b"\n")) for m in (attached, pdf))


def test_half_written_file_is_not_sent_half(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    whole = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: slow writer\r\n\r\n" + \
            b"first half\r\n" * 500 + b"second half\r\n" * 500
    with RunningRelay(config, settle=0.2) as relay:
        with open(config.pickup.dir / "slow.eml", "wb") as f:
            f.write(whole[: len(whole) // 2])
            f.flush()
            time.sleep(1.5)  # far longer than the settle time and the unsettled recheck
            assert upstream.received == []
            f.write(whole[len(whole) // 2:])
        wait_until(lambda: relay.counts["sent"] == 1, what="the whole file")
    assert upstream.received[0].content == whole.replace(b"\r\n", b"\n")


def test_file_moved_in_from_another_folder_is_sent(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    outside = tmp_path / "elsewhere.eml"
    outside.write_bytes(GOOD % 7)
    with RunningRelay(config) as relay:
        os.rename(outside, config.pickup.dir / "moved.eml")
        wait_until(lambda: relay.counts["sent"] == 1, what="the moved-in file")


def test_hidden_and_tmp_names_are_left_alone(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    (config.pickup.dir / ".writing.eml").write_bytes(GOOD % 1)
    (config.pickup.dir / "draft.tmp").write_bytes(GOOD % 2)
    (config.pickup.dir / "real.eml").write_bytes(GOOD % 3)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 1)
        time.sleep(0.5)
    assert sorted(p.name for p in config.pickup.dir.iterdir()) == [".writing.eml", "draft.tmp"]


def test_files_dropped_while_the_relay_was_down_are_sent_at_start(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    for n in range(30):
        drop_notification(config, n)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 30, what="all thirty")
    assert len(set(message_ids(upstream.received))) == 30


def test_messages_left_in_active_by_a_crash_are_sent_at_start(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    active = config.relay.queue_dir / "active"
    active.mkdir(parents=True)
    (active / "0661550000000000000000aa.eml").write_bytes(GOOD % 1)
    (active / "0661550000000000000000bb.bulk.eml").write_bytes(GOOD % 2)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 2, what="both recovered messages")
    assert not files(active)


def test_transactional_mail_overtakes_a_bulk_backlog(tmp_path, upstream):
    upstream.faults.data_delay = 0.004  # a backlog that takes a few seconds to drain
    config = relay_config(tmp_path, upstream.port, connections=2)
    for n in range(600):
        drop_notification(config, n, priority="bulk")
    with RunningRelay(config) as relay:
        wait_until(lambda: len(upstream.received) >= 100, what="the newsletter under way")
        drop_notification(config, 9999, to=["reset@example.test"])
        before = len(upstream.received)
        wait_until(lambda: any(r.recipients == ["reset@example.test"] for r in upstream.received),
                   what="the password reset")
        position = next(i for i, r in enumerate(upstream.received)
                        if r.recipients == ["reset@example.test"])
        assert relay.counts["sent"] < 600  # it did not wait for the backlog
    # Only what was already claimed ahead of the workers (2 per connection) can go first.
    assert position - before <= 6


def test_refuses_to_start_when_pickup_and_queue_are_on_two_filesystems(tmp_path, upstream):
    shm = "/dev/shm"
    if not os.path.isdir(shm) or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second filesystem at /dev/shm")
    pickup = os.path.join(shm, f"pickup-{os.getpid()}-{random.randrange(10**9)}")
    config_path = relay_config_file(tmp_path, upstream.port, pickup={"dir": pickup})
    try:
        relay = start_relay(config_path, tmp_path / "relay.log")
        assert relay.wait(timeout=20) == 2
        assert "different filesystems" in (tmp_path / "relay.log").read_text()
    finally:
        if os.path.isdir(pickup):
            os.rmdir(pickup)


def test_sigterm_finishes_in_flight_sends_and_exits_0(tmp_path, upstream):
    upstream.faults.data_delay = 0.5
    config_path = relay_config_file(tmp_path, upstream.port)
    config = load_config(config_path)
    for n in range(20):
        drop_notification(config, n)
    relay = start_relay(config_path, tmp_path / "relay.log")
    try:
        wait_until(lambda: upstream.received, what="the first delivery")
        wait_until(lambda: log_count(tmp_path / "relay.log", "relay started"), what="start")
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0
    finally:
        relay.kill()
    delivered = len(upstream.received)
    left = len(files(config.pickup.dir)) + len(files(config.relay.queue_dir / "deferred"))
    assert delivered + left == 20  # nothing lost, nothing sent twice
    assert not files(config.relay.queue_dir / "active")
    assert "relay stopped" in (tmp_path / "relay.log").read_text()


def test_four_relays_on_one_folder_deliver_2000_messages_exactly_once(tmp_path, upstream):
    config_path = relay_config_file(tmp_path, upstream.port)
    config = load_config(config_path)
    relays = [start_relay(config_path, tmp_path / f"relay{n}.log") for n in range(4)]
    try:
        for n in range(4):
            wait_until(lambda n=n: log_count(tmp_path / f"relay{n}.log", "relay started"),
                       what=f"relay {n} to start")
        for n in range(2000):
            drop_notification(config, n)
        wait_until(lambda: len(upstream.received) >= 2000, timeout=120, what="2000 deliveries")
        time.sleep(0.5)  # a duplicate would arrive now
    finally:
        for relay in relays:
            relay.send_signal(signal.SIGTERM)
        for relay in relays:
            assert relay.wait(timeout=30) == 0
    ids = message_ids(upstream.received)
    assert len(ids) == 2000 and len(set(ids)) == 2000


def test_sigkill_at_random_moments_loses_nothing_and_duplicates_stay_bounded(tmp_path, upstream):
    upstream.faults.data_delay = 0.001
    config_path = relay_config_file(tmp_path, upstream.port)
    config = load_config(config_path)
    for n in range(2000):
        drop_notification(config, n)
    rng = random.Random(1234)
    kills = 0
    for _round in range(6):
        relay = start_relay(config_path, tmp_path / "relay.log")
        try:
            time.sleep(rng.uniform(0.3, 0.9))
        finally:
            relay.kill()
            relay.wait(timeout=10)
        kills += 1
        if len(set(message_ids(upstream.received))) == 2000:
            break
    log = tmp_path / "relay.log"
    starts = log_count(log, "relay started")
    relay = start_relay(config_path, log)
    try:
        wait_until(lambda: len(set(message_ids(upstream.received))) == 2000, timeout=120,
                   what="every message at least once")
        wait_until(lambda: log_count(log, "relay started") > starts, what="signal handlers")
    finally:
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0
    counts = Counter(message_ids(upstream.received))
    duplicates = sum(c - 1 for c in counts.values())
    assert len(counts) == 2000
    assert duplicates <= config.relay.connections * kills, f"{duplicates} duplicates, {kills} kills"
    assert not files(config.relay.queue_dir / "active") and not files(config.pickup.dir)
