"""While `make run` runs in a checkout, `relay` and `flask` commands there read its config and
say so; a run killed without cleaning up redirects nothing; a config named elsewhere says it is
not the local run's. The run is a real process holding the real lock (scripts/run_local.py's
run_lock), the commands real processes in a checkout-like folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from relay.sink.server import Sink
from tests.configs import SITE, config_file
from tests.ports import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_local.py"
BIN = Path(sys.executable).parent
# A stand-in for `make run`: takes run_local's lock and record, says so, waits for stdin to close.
HOLD_THE_RUN_LOCK = """
import runpy, sys
from pathlib import Path
run_lock = runpy.run_path(sys.argv[1])["run_lock"]
folder, config = Path(sys.argv[2]), None if sys.argv[3] == "-" else Path(sys.argv[3]).resolve()
with run_lock(folder / "var", config):
    print("running", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def smart_host(tmp_path):
    """The sink the local run moved its smart host to."""
    with Sink(tmp_path / "sink") as server:
        yield server


@pytest.fixture
def checkout(tmp_path, smart_host):
    """config.toml pointing at a port where nothing listens (the issue's 2525 while the run
    moved to another), and the run's own .run-local.toml pointing at the sink that answers."""
    config_file(tmp_path, SITE, relay={"smarthost": {"port": smart_host.port}})
    (tmp_path / "config.toml").rename(tmp_path / ".run-local.toml")
    config_file(tmp_path, SITE, relay={"smarthost": {"port": free_port()}})
    (tmp_path / "queue").mkdir()
    return tmp_path


class FakeLocalRun:
    """A real process holding the local run's lock and record for `config` (None: the embedded
    defaults) in `checkout` (default: the config's folder); stopped on exit."""

    def __init__(self, config: Path | None, checkout: Path | None = None):
        folder = checkout or config.parent
        self.process = subprocess.Popen([sys.executable, "-c", HOLD_THE_RUN_LOCK, str(SCRIPT), str(folder),
                                         str(config or "-")],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline() == "running\n"
        self.pid = self.process.pid

    def kill_hard(self) -> None:
        """Like a kill -9 of make run: the record stays behind, the kernel drops the lock."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def __enter__(self) -> FakeLocalRun:
        return self

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()   # the run's signal to stop, cleaning up
        self.process.wait(timeout=10)
        self.process.stdout.close()


def command(checkout: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A command typed in the checkout, with no $PICKUP_RELAY_CONFIG unless `env` sets it."""
    clean = {k: v for k, v in os.environ.items() if k != "PICKUP_RELAY_CONFIG"}
    return subprocess.run(list(args), cwd=checkout, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=60, check=False)


def relay_status(checkout: Path, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return command(checkout, sys.executable, "-m", "relay", *options, "status", env=env)


def test_relay_status_in_the_checkout_reads_the_local_runs_config_and_says_so(checkout, smart_host):
    with FakeLocalRun(checkout / ".run-local.toml") as run:
        status = relay_status(checkout)
    assert status.stderr == f"relay: using the local run's config .run-local.toml (make run, pid {run.pid})\n"
    assert f"smart host 127.0.0.1:{smart_host.port}: reachable" in status.stdout
    assert f"config: {checkout / '.run-local.toml'}" in status.stdout
    assert status.returncode == 0, status.stdout


def test_a_killed_runs_left_record_redirects_nothing(checkout, smart_host):
    with FakeLocalRun(checkout / ".run-local.toml") as run:
        run.kill_hard()
        assert (checkout / "var" / "run-local.json").exists()
        status = relay_status(checkout)
    assert status.stderr == ""
    assert f"config: {checkout / 'config.toml'}" in status.stdout
    assert "UNREACHABLE" in status.stdout
    assert status.returncode == 1


def test_a_run_that_stopped_removes_its_record(checkout):
    with FakeLocalRun(checkout / ".run-local.toml"):
        assert (checkout / "var" / "run-local.json").exists()
    assert not (checkout / "var" / "run-local.json").exists()
    assert relay_status(checkout).stderr == ""


@pytest.mark.parametrize("how", ["--config", "PICKUP_RELAY_CONFIG"])
def test_a_config_named_elsewhere_is_read_and_says_it_is_not_the_local_runs(checkout, how):
    options, env = (["--config", "config.toml"], None) if how == "--config" else \
        ([], {"PICKUP_RELAY_CONFIG": "config.toml"})
    alone = relay_status(checkout, *options, env=env)
    with FakeLocalRun(checkout / ".run-local.toml") as run:
        status = relay_status(checkout, *options, env=env)
    assert status.stderr == (f"relay: reading config.toml, not the config of the local run, "
                             f".run-local.toml (make run, pid {run.pid})\n")
    assert status.returncode == alone.returncode == 1   # what the command itself says is unchanged
    assert status.stdout.splitlines()[:8] == alone.stdout.splitlines()[:8]


def test_a_config_named_from_another_folder_is_compared_with_that_folders_run(checkout, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    with FakeLocalRun(checkout / ".run-local.toml") as run:
        status = command(elsewhere, sys.executable, "-m", "relay", "--config",
                         str(checkout / "config.toml"), "status", "--no-smarthost")
    assert status.stderr == (f"relay: reading {checkout / 'config.toml'}, not the config of the local run, "
                             f"{checkout / '.run-local.toml'} (make run, pid {run.pid})\n")


def test_naming_the_local_runs_own_config_says_nothing(checkout):
    with FakeLocalRun(checkout / ".run-local.toml"):
        status = relay_status(checkout, "--config", ".run-local.toml")
    assert status.stderr == ""
    assert status.returncode == 0, status.stdout


def test_the_sites_commands_read_the_local_runs_config_too(checkout):
    with FakeLocalRun(checkout / ".run-local.toml") as run:
        check = command(checkout, str(BIN / "flask"), "--app", "webapp", "check")
    assert check.stderr.splitlines()[0] == \
        f"flask: using the local run's config .run-local.toml (make run, pid {run.pid})"
    assert str(checkout / ".run-local.toml") in check.stdout


def test_a_config_toml_made_after_a_run_on_the_embedded_defaults_started_is_said_to_differ(checkout):
    with FakeLocalRun(None, checkout) as run:
        status = command(checkout, sys.executable, "-m", "relay", "status", "--no-smarthost")
    assert status.stderr == (f"relay: reading config.toml, not the config of the local run, "
                             f"embedded defaults (make run, pid {run.pid})\n")
