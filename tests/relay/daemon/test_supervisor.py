"""`relay run` with several processes: they share the queue, deliver once, stop and restart cleanly."""

from __future__ import annotations

import json
import os
import signal
import urllib.request

from relay.queue.pids import running_relays
from settings import load_config
from tests.ports import free_port
from tests.relay.relay_helpers import (
    drop_notification,
    log_count,
    message_ids,
    relay_cli,
    relay_config_file,
    start_relay,
    wait_until,
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours is dead too
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def children_of(config) -> list[int]:
    return [r.pid for r in running_relays(config.relay.queue_dir)[0]]


def kill_a_child(config) -> int:
    """SIGKILL one of the two relay processes, once both run; its pid."""
    wait_until(lambda: len(children_of(config)) == 2, what="two relay processes")
    victim = children_of(config)[0]
    os.kill(victim, signal.SIGKILL)
    return victim


def test_two_processes_deliver_every_message_once_and_stop_with_exit_0(tmp_path, upstream):
    metrics_port = free_port()
    config_path = relay_config_file(tmp_path, upstream.port, processes=2,
                                    metrics_listen=f"127.0.0.1:{metrics_port}")
    config = load_config(config_path)
    supervisor = start_relay(config_path, tmp_path / "relay.log")
    try:
        wait_until(lambda: len(children_of(config)) == 2, what="two relay processes")
        children = children_of(config)
        for n in range(400):
            drop_notification(config, n)
        wait_until(lambda: len(upstream.received) >= 400, timeout=60, what="400 deliveries")
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        sent = sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith('relay_attempts_total{outcome="sent"}'))
        assert sent == 400  # the supervisor serves the sum over its processes
        status = relay_cli(config_path, "status", "--no-smarthost").stdout
        assert f"relay running: pid {supervisor.pid} on " in status  # one line per `relay run`
        assert "(supervisor of 2 processes: " in status and status.count("relay running:") == 1
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    finally:
        supervisor.kill()
    ids = message_ids(upstream.received)
    assert len(ids) == 400 and len(set(ids)) == 400
    wait_until(lambda: not any(alive(pid) for pid in children), what="children to exit")


def test_a_child_that_dies_is_restarted_and_mail_keeps_flowing(tmp_path, upstream):
    config_path = relay_config_file(tmp_path, upstream.port, processes=2)
    config = load_config(config_path)
    supervisor = start_relay(config_path, tmp_path / "relay.log")
    try:
        victim = kill_a_child(config)
        wait_until(lambda: log_count(tmp_path / "relay.log", "restarting it") == 1, what="a restart")
        wait_until(lambda: len(children_of(config)) == 2 and victim not in children_of(config),
                   what="a new second process")
        for n in range(50):
            drop_notification(config, n)
        wait_until(lambda: len(upstream.received) >= 50, what="50 deliveries")
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    finally:
        supervisor.kill()


def test_the_supervisor_writes_to_the_configured_log_file_at_the_configured_level(tmp_path, upstream):
    # The exec'd supervisor does not read the config: `relay run` hands it the file and level.
    log_file = tmp_path / "logs" / "relay.log"
    config_path = relay_config_file(tmp_path, upstream.port, processes=2, log_file=str(log_file),
                                    log_level="warning")
    config = load_config(config_path)
    supervisor = start_relay(config_path, tmp_path / "stderr.log")
    try:
        victim = kill_a_child(config)
        wait_until(lambda: log_count(log_file, f"relay process {victim} died") == 1,
                   what="the supervisor's line in the log file")
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    finally:
        supervisor.kill()
    assert "processes sharing" not in log_file.read_text()   # info, below the level asked for
    assert "died" not in (tmp_path / "stderr.log").read_text()


def test_killing_the_supervisor_takes_its_children_down(tmp_path, upstream):
    config_path = relay_config_file(tmp_path, upstream.port, processes=2)
    config = load_config(config_path)
    supervisor = start_relay(config_path, tmp_path / "relay.log")
    try:
        wait_until(lambda: len(children_of(config)) == 2, what="two relay processes")
        children = children_of(config)
        supervisor.kill()
        supervisor.wait(timeout=10)
        wait_until(lambda: not any(alive(pid) for pid in children), what="orphans to stop")
    finally:
        supervisor.kill()


def test_status_lists_each_process(tmp_path, upstream):
    from click.testing import CliRunner

    from relay.cli.main import main

    config_path = relay_config_file(tmp_path, upstream.port, processes=2)
    config = load_config(config_path)
    supervisor = start_relay(config_path, tmp_path / "relay.log")
    try:
        wait_until(lambda: len(children_of(config)) == 2, what="two relay processes")
        result = CliRunner().invoke(main, ["--config", str(config_path), "status", "--json"])
        assert len(json.loads(result.stdout)["relays"]) == 2
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    finally:
        supervisor.kill()


def test_a_sigterm_while_the_supervisor_starts_is_a_clean_stop(tmp_path, upstream):
    # The children are forked before the supervisor's own interpreter is up: a SIGTERM then
    # waits for its handler instead of killing it and orphaning mail in flight.
    config_path = relay_config_file(tmp_path, upstream.port, processes=2)
    config = load_config(config_path)
    for n in range(20):
        drop_notification(config, n)
    supervisor = start_relay(config_path, tmp_path / "relay.log")
    try:
        wait_until(lambda: len(children_of(config)) >= 1, timeout=10, what="a relay process")
        children = children_of(config)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        assert not any(alive(pid) for pid in children)
        delivered, left = len(upstream.received), len(list(config.pickup.dir.glob("*.eml")))
        queued = len(list((config.relay.queue_dir / "deferred").glob("*.eml")))
        assert delivered + left + queued >= 20 and not list((config.relay.queue_dir / "active").iterdir())
    finally:
        supervisor.kill()
