"""The systemd units in contrib/: the outbox worker's unit is sandboxed as the relay's is, and the
command it runs stops cleanly on the signal systemd sends."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.configs import config_file
from tests.ports import free_port

CONTRIB = Path(__file__).resolve().parents[1] / "contrib"
FLASK = Path(sys.executable).parent / "flask"


def settings(unit: str) -> list[tuple[str, str]]:
    pairs = []
    for line in (CONTRIB / unit).read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            pairs.append((key, value))
    return pairs


def sandbox(unit: str) -> set[tuple[str, str]]:
    """The hardening lines: everything after the unit's "# Sandbox" comment but its paths."""
    text = (CONTRIB / unit).read_text()
    block = text.split("\n# Sandbox", 1)[1].split("\n[Install]", 1)[0].splitlines()[1:]
    return {tuple(line.split("=", 1)) for line in block if line and not line.startswith("ReadWritePaths")}


def test_the_outbox_unit_has_every_hardening_line_of_the_relays_unit():
    assert sandbox("pickup-relay.service") <= sandbox("pickup-relay-outbox.service")
    assert ("ProtectSystem", "strict") in sandbox("pickup-relay-outbox.service")


def test_the_outbox_unit_runs_the_worker_as_the_site_with_the_relays_config():
    outbox, relay = dict(settings("pickup-relay-outbox.service")), dict(settings("pickup-relay.service"))
    assert outbox["ExecStart"].endswith("/.venv/bin/flask --app webapp outbox-worker")
    assert outbox["User"] == "www-data" and outbox["UMask"] == "0027"
    assert outbox["Environment"] == relay["Environment"]
    assert relay["Environment"] == "PICKUP_RELAY_CONFIG=/etc/pickup-relay/config.toml"
    assert (outbox["Restart"], outbox["KillSignal"]) == ("always", "SIGTERM")
    assert "/var/spool/pickup-relay/pickup" in outbox["ReadWritePaths"].split()


def test_the_worker_exits_0_on_the_units_kill_signal(tmp_path):
    config_path = config_file(tmp_path, relay={"smarthost": {"port": free_port()}},
                              webapp={"base_url": "http://127.0.0.1:5000"})
    (tmp_path / "pickup").rmdir()   # the relay makes it: the worker must wait for it
    env = {"PICKUP_RELAY_CONFIG": str(config_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([str(FLASK), "--app", "webapp", "init-db"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    missing = subprocess.run([str(FLASK), "--app", "webapp", "outbox-worker"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert f"pickup folder {tmp_path / 'pickup'}: cannot create a lock file" in missing.stderr
    (tmp_path / "pickup").mkdir()  # the relay makes it; the worker only writes into it
    worker = subprocess.Popen([str(FLASK), "--app", "webapp", "outbox-worker"], env=env, cwd=tmp_path,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not list((tmp_path / "pickup").glob(".placer-*.lock")):  # its staging lock: running
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(getattr(signal, dict(settings("pickup-relay-outbox.service"))["KillSignal"]))
        assert worker.wait(timeout=30) == 0
        assert "outbox-worker: 0 event(s) fanned out" in worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stderr.close()


def test_the_receive_unit_is_sandboxed_as_the_relay_and_may_only_bind_port_25():
    relay, receive = sandbox("pickup-relay.service"), sandbox("pickup-relay-receive.service")
    assert relay - {("CapabilityBoundingSet", "")} <= receive
    assert ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE") in receive
    unit = dict(settings("pickup-relay-receive.service"))
    assert unit["ExecStart"].endswith("/.venv/bin/relay receive") and unit["User"] == "pickup-relay"
    assert unit["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    assert "/var/spool/pickup-relay" in unit["ReadWritePaths"].split()


def test_the_inbound_worker_unit_is_the_outbox_units_twin_on_the_drop_folder():
    inbound = dict(settings("pickup-relay-inbound.service"))
    outbox = dict(settings("pickup-relay-outbox.service"))
    assert sandbox("pickup-relay-outbox.service") <= sandbox("pickup-relay-inbound.service")
    assert inbound["ExecStart"].endswith("/.venv/bin/flask --app webapp inbound-worker")
    for key in ("User", "UMask", "Environment", "EnvironmentFile", "Restart", "KillSignal"):
        assert inbound[key] == outbox[key]
    assert "/var/spool/pickup-relay/drop" in inbound["ReadWritePaths"].split()
