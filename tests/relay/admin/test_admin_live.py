"""The admin commands as real processes beside a live `relay run`: safe mid-flow, and they wake it."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time

from settings import load_config
from tests.configs import write_toml
from tests.ports import free_port
from tests.relay.relay_helpers import (
    RELAY_BIN,
    drop_notification,
    files,
    log_count,
    message_ids,
    relay_cmd,
    relay_config_file,
    start_relay,
    wait_until,
)


def listed(config_path, *args: str) -> list[dict]:
    result = relay_cmd(config_path, "list", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["messages"]


def stop(relay: subprocess.Popen) -> None:
    relay.send_signal(signal.SIGTERM)
    try:
        assert relay.wait(timeout=30) == 0
    finally:
        relay.kill()


def test_status_list_hold_and_release_during_a_200_message_flow_lose_and_duplicate_nothing(
        tmp_path, upstream, config_path, config):
    upstream.faults.data_delay = 0.01
    greylisted = {f"user{n}@example.test" for n in range(0, 200, 20)}  # ten messages get deferred
    upstream.faults.rcpt_replies.update(dict.fromkeys(greylisted, "451 4.7.1 Greylisted"))
    deferred, hold = config.relay.queue_dir / "deferred", config.relay.queue_dir / "hold"
    log = tmp_path / "relay.log"
    relay = start_relay(config_path, log)
    try:
        wait_until(lambda: log_count(log, "relay started"), what="the relay to start")
        for n in range(200):
            drop_notification(config, n)
        status = relay_cmd(config_path, "status", "--json")  # while the mail flows
        assert status.returncode == 0, status.stdout
        report = json.loads(status.stdout)
        assert [r["pid"] for r in report["relays"]] == [relay.pid]
        assert report["smarthost"]["reachable"] is True
        assert all(0 <= f["count"] <= 200 for f in report["folders"].values())
        assert report["folders"]["hold"]["count"] == report["folders"]["badmail"]["count"] == 0
        for row in listed(config_path):
            assert re.fullmatch(r"[0-9a-f]{24}", row["id"]) and row["folder"] in ("active", "deferred")
        wait_until(lambda: len(files(deferred)) == 10 and len(upstream.received) == 190,
                   what="190 sent and 10 deferred")
        stuck = [row["id"] for row in listed(config_path, "--folder", "deferred")]
        assert sorted(row["recipients"][0] for row in listed(config_path)) == sorted(greylisted)
        held = relay_cmd(config_path, "hold", *stuck[:5])
        assert held.returncode == 0 and held.stdout.count("held: ") == 5
        upstream.faults.rcpt_replies.clear()
        released = relay_cmd(config_path, "release", *stuck[:2])
        assert released.returncode == 0, released.stderr
        assert relay_cmd(config_path, "retry", "--all").returncode == 0
        wait_until(lambda: len(upstream.received) == 197, timeout=10, what="the released and retried")
        time.sleep(0.5)  # a duplicate would arrive now
    finally:
        stop(relay)
    ids = message_ids(upstream.received)
    assert len(ids) == 197 and len(set(ids)) == 197
    assert sorted(p.name.split(".")[0] for p in files(hold)) == sorted(stuck[2:5])  # left held
    assert not files(deferred) and not files(config.pickup.dir)
    assert not files(config.relay.queue_dir / "active")


def test_retry_all_sends_deferred_mail_at_once_despite_an_hour_long_schedule(tmp_path, upstream,
                                                                            config_path, config):
    recipients = [f"user{n}@example.test" for n in range(5)]
    upstream.faults.rcpt_replies.update(dict.fromkeys(recipients, "451 4.3.0 Try again later"))
    log = tmp_path / "relay.log"
    relay = start_relay(config_path, log)
    try:
        wait_until(lambda: log_count(log, "relay started"), what="the relay to start")
        for n in range(5):
            drop_notification(config, n)
        wait_until(lambda: len(files(config.relay.queue_dir / "deferred")) == 5, what="5 deferrals")
        upstream.faults.rcpt_replies.clear()
        started = time.monotonic()
        result = relay_cmd(config_path, "retry", "--all")
        assert result.returncode == 0 and result.stdout.count("due now: ") == 5
        # Without the SIGUSR1 sent via pids/, the relay would look at deferred/ in 30 s at best.
        wait_until(lambda: len(upstream.received) == 5, timeout=5, what="the retried mail")
        assert time.monotonic() - started < 3
    finally:
        stop(relay)
    assert sorted(r.recipients[0] for r in upstream.received) == recipients


def accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_check_exits_0_when_set_up_1_with_the_sink_down_naming_the_fix_2_for_a_broken_config(tmp_path):
    port = free_port()
    config_path = relay_config_file(tmp_path, port, sink={"port": port, "maildir": "sink"})
    config = load_config(config_path)
    sink = subprocess.Popen([str(RELAY_BIN), "--config", str(config_path), "sink"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    relay = None
    try:
        wait_until(lambda: accepting(port), what="the sink to listen")
        relay = start_relay(config_path, tmp_path / "relay.log")  # makes the queue folders
        wait_until(lambda: log_count(tmp_path / "relay.log", "relay started"), what="the relay")
        good = relay_cmd(config_path, "check")
        assert good.returncode == 0, good.stdout
        out = good.stdout
        assert "PROBLEM" not in out and f"ok       smart host: 127.0.0.1:{port} answered 250" in out
        assert f"ok       queue folder: {config.relay.queue_dir} is writable" in out
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=15) == 0
        down = relay_cmd(config_path, "check")
        assert down.returncode == 1
        out = down.stdout
        assert f"PROBLEM  smart host: connection to 127.0.0.1:{port} refused" in out
        assert f"fix: is the server at 127.0.0.1:{port} running?" in out and "`relay sink`" in out
    finally:
        sink.kill()
        sink.wait(timeout=10)
        if relay is not None:
            stop(relay)
    broken = write_toml(tmp_path, '[relay]\nconnections = "four"\n')   # a value the loader refuses
    result = relay_cmd(broken, "check")
    assert result.returncode == 2
    assert "config error" in result.stderr and "[relay] connections" in result.stderr
    assert relay_cmd(tmp_path / "missing.toml", "check").returncode == 2


def test_retry_wakes_the_relay_for_the_ids_it_moved_even_when_another_id_is_unknown(
        tmp_path, upstream, config_path, config):
    upstream.faults.rcpt_replies["user0@example.test"] = "451 4.3.0 Try again later"
    log = tmp_path / "relay.log"
    relay = start_relay(config_path, log)
    try:
        wait_until(lambda: log_count(log, "relay started"), what="the relay to start")
        drop_notification(config, 0)
        wait_until(lambda: files(config.relay.queue_dir / "deferred"), what="a deferral")
        upstream.faults.rcpt_replies.clear()
        [row] = listed(config_path, "--folder", "deferred")
        result = relay_cmd(config_path, "retry", row["id"], "0" * 24)
        assert result.returncode == 1 and f"due now: {row['id']}" in result.stdout
        wait_until(lambda: upstream.received, timeout=3, what="the retried message")
    finally:
        stop(relay)
