"""`make run`'s script: one run per checkout, and every way of stopping it stops all three parts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from relay.sink import free_port
from tests.relay.relay_helpers import wait_until

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_local.py"


def descendants(pid: int) -> set[int]:
    """Every live process below pid, from /proc (the parts run in their own sessions)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists()
            and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}


@pytest.fixture
def local_config(tmp_path):
    site, sink = free_port(), free_port()
    path = tmp_path / "config.toml"
    path.write_text(f'[relay]\nprocesses = 1\n[relay.smarthost]\nport = {sink}\n'
                    f'[sink]\nport = {sink}\n[webapp]\nbase_url = "http://127.0.0.1:{site}"\n')
    return path


def start(config: Path, via_parent: bool = False) -> subprocess.Popen:
    command = [sys.executable, str(SCRIPT), "--config", str(config)]
    if via_parent:  # like make: a parent that only waits for the script
        command = [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])",
                   *command]
    with open(config.parent / "run-local.log", "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=config.parent)


def wait_for_three_parts(process: subprocess.Popen) -> set[int]:
    wait_until(lambda: len(descendants(process.pid)) >= 3, timeout=30, what="site, relay and sink")
    return descendants(process.pid)


def stop_all(process: subprocess.Popen, parts: set[int]) -> None:
    for pid in alive(parts | {process.pid}):
        os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_a_second_run_says_who_runs_and_starts_nothing(local_config):
    first = start(local_config)
    parts = set()
    try:
        parts = wait_for_three_parts(first)
        second = subprocess.run([sys.executable, str(SCRIPT), "--config", str(local_config)],
                                capture_output=True, text=True, timeout=30, check=False)
        assert second.returncode == 1
        assert f"already running: pid {first.pid}" in second.stderr
        assert alive(parts) == parts and len(descendants(first.pid)) == len(parts)
    finally:
        stop_all(first, parts)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_run_stops_site_relay_and_sink(local_config, signum):
    run = start(local_config)
    parts = set()
    try:
        parts = wait_for_three_parts(run)
        run.send_signal(signum)
        run.wait(timeout=60)
        wait_until(lambda: not alive(parts), timeout=30, what="every part stopped")
    finally:
        stop_all(run, parts)


def test_killing_make_above_the_run_stops_everything(local_config):
    make = start(local_config, via_parent=True)
    parts = set()
    try:
        parts = wait_for_three_parts(make)
        make.send_signal(signal.SIGTERM)  # make dies; the script and its parts must follow
        make.wait(timeout=30)
        wait_until(lambda: not alive(parts), timeout=30, what="the script and its parts stopped")
    finally:
        stop_all(make, parts)


def test_ports_given_once_move_the_site_the_sink_and_the_relay_with_it(local_config):
    site, smtp = free_port(), free_port()
    run = subprocess.Popen([sys.executable, str(SCRIPT), "--config", str(local_config), "--port",
                            str(site), "--smtp-port", str(smtp)], cwd=local_config.parent,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = set()
    try:
        parts = wait_for_three_parts(run)
        wait_until(lambda: answers(site) and answers(smtp), timeout=30, what="both ports")
        derived = (local_config.parent / ".run-local.toml").read_text()
        assert f'base_url = "http://127.0.0.1:{site}"' in derived
        assert derived.count(f"port = {smtp}") == 2  # the sink and the relay's smart host
    finally:
        stop_all(run, parts)


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
