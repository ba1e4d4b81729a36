"""The relay's log: one line per attempt, start and stop lines, and a file that logrotate can move."""

from __future__ import annotations

import os
import signal

from settings import load_config
from tests.relay.relay_helpers import drop_notification, log_count, relay_config_file, start_relay, wait_until


def test_log_file_moved_away_and_sighup_continue_in_a_new_file(tmp_path, upstream):
    config_path = relay_config_file(tmp_path, upstream.port, log_file="relay.log")
    config = load_config(config_path)
    log = tmp_path / "relay.log"
    relay = start_relay(config_path, tmp_path / "stderr.log")
    try:
        wait_until(lambda: log_count(log, "relay started"), what="the start line")
        drop_notification(config, 1)
        wait_until(lambda: log_count(log, "status=sent"), what="the first attempt line")
        os.rename(log, tmp_path / "relay.log.1")  # what logrotate does
        relay.send_signal(signal.SIGHUP)
        drop_notification(config, 2)
        wait_until(lambda: log_count(log, "status=sent"), what="a line in the new file")
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0
    finally:
        relay.kill()
    old, new = (tmp_path / "relay.log.1").read_text(), log.read_text()
    assert "relay started: config=" in old and old.count("status=sent") == 1
    assert new.count("status=sent") == 1 and "relay stopped: sent=2" in new
    line = next(x for x in new.splitlines() if "status=sent" in x)
    assert "to=<user2@example.test>" in line and "attempt=1" in line and "(250 OK queued)" in line


def test_a_storm_of_signals_never_deadlocks_the_relay(tmp_path, upstream):
    # Signal handlers only set flags: one that took a lock held by the code it interrupted
    # would hang the process. Hundreds of SIGUSR1/SIGHUP, then SIGTERM: it must still stop.
    config_path = relay_config_file(tmp_path, upstream.port, processes=2)
    config = load_config(config_path)
    relay = start_relay(config_path, tmp_path / "relay.log")
    try:
        wait_until(lambda: log_count(tmp_path / "relay.log", "relay started") == 2, what="start")
        for n in range(400):
            relay.send_signal(signal.SIGUSR1 if n % 2 else signal.SIGHUP)
            if n % 50 == 0:
                drop_notification(config, n)
        wait_until(lambda: len(upstream.received) == 8, what="mail still flowing")
        relay.send_signal(signal.SIGTERM)
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0
    finally:
        relay.kill()
