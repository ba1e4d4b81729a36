"""`relay run` on several cores: one relay process per core, sharing the queue folders.

One Python process tops out near 1,600 messages/s here (the GIL, not the network);
the claim protocol (flock, then rename) already lets relays share folders, so this
supervisor starts [relay] processes children (0 = one per CPU), splits
`connections` between them, forwards SIGTERM/SIGINT/SIGHUP/SIGUSR1, restarts a
child that dies (a crash loses nothing: its active/ files are taken again), and
exits 0 once every child has stopped. A child that exits 2 (bad config or
folders) stops them all with exit 2. With metrics on, the children write to a
shared prometheus multiprocess folder and the supervisor serves the sum.
`relay run` checks the config, the keys and the folders, then execs this module
(become_supervisor: same pid, a fresh interpreter without the CLI's and the daemon's
modules), so the supervisor holds about 18 MB, not 31.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

from settings import Config

log = logging.getLogger("relay")

RESTART_PAUSE = 2.0
CHILD_ENV = "PICKUP_RELAY_CHILD"          # "index/count" for a child process


def process_count(config: Config) -> int:
    wanted = config.relay.processes or os.cpu_count() or 1
    return max(1, min(wanted, config.relay.connections))


def run_supervisor(config: Config, config_path: str | None, count: int) -> int:
    metrics_dir = None
    env = dict(os.environ)
    if config.relay.metrics_listen:
        metrics_dir = config.relay.queue_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    command = [sys.executable, "-m", "relay"] + (["--config", config_path] if config_path else []) + ["run"]
    children: dict[int, subprocess.Popen] = {}
    stopping = False
    pending: list[int] = []   # signals to pass on; the handler only appends (no locks)

    def start(index: int) -> None:
        children[index] = subprocess.Popen(command, env={**env, CHILD_ENV: f"{index}/{count}"})

    def forward(signum: int) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
            signum = signal.SIGTERM
        for child in children.values():
            if child.returncode is None:
                os.kill(child.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(signum, lambda signum, _frame: pending.append(signum))
    server = _serve_metrics(config, metrics_dir)
    log.info("relay supervisor: %d processes sharing %s", count, config.relay.queue_dir)
    exit_code = 0
    try:
        for index in range(count):
            start(index)
        while children:
            time.sleep(0.2)
            while pending:
                forward(pending.pop(0))
            for index, child in list(children.items()):
                code = child.poll()
                if code is None:
                    continue
                del children[index]
                if stopping:
                    continue
                if code == 2:  # config or folders: restarting cannot help
                    log.error("relay process %d exited 2: stopping all", child.pid)
                    exit_code = 2
                    forward(signal.SIGTERM)
                    continue
                log.error("relay process %d died (exit %s): restarting it", child.pid, code)
                time.sleep(RESTART_PAUSE)
                start(index)
    finally:
        for child in children.values():
            child.kill()
        if server is not None:
            server.shutdown()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return exit_code


def become_supervisor(config_path: str | None, count: int) -> NoReturn:
    """Replace this `relay run` (it has read the config, taken the queue's owner and checked
    the keys) by a lean supervisor, same pid: python -m relay.daemon.supervisor. The CLI,
    SMTP and queue modules it no longer needs stay out of its memory (~10 MB of peak RSS)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "relay.daemon.supervisor", config_path or "", str(count)])


def main(argv: list[str]) -> int:
    """The supervisor become_supervisor() starts: argv is [_, config path or "", count]."""
    from relay.daemon.logsetup import configure_logging
    from settings import ConfigError, load_config

    config_path, count = argv[1] or None, int(argv[2])
    try:
        config = load_config(config_path)
    except ConfigError as e:   # changed since `relay run` read it a moment ago
        print(f"relay: config error: {e}", file=sys.stderr)
        return 2
    configure_logging(config.relay.log_level, config.relay.log_file)
    return run_supervisor(config, config_path, count)


def child_slot() -> tuple[int, int] | None:
    """(index, count) when this process is a supervisor's child; such a child also asks the
    kernel for SIGTERM when the supervisor dies, so a killed supervisor leaves no orphans."""
    value = os.environ.get(CHILD_ENV)
    if not value:
        return None
    _term_when_parent_dies()
    index, _, count = value.partition("/")
    return int(index), int(count)


def _term_when_parent_dies() -> None:
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        return  # not Linux: the supervisor's SIGTERM is the only stop
    if os.getppid() == 1:  # the supervisor died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def _serve_metrics(config: Config, metrics_dir: Path | None):
    if metrics_dir is None:
        return None
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    from relay.daemon.metrics import FolderCollector
    from relay.queue.folders import Queue

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    registry.register(FolderCollector(Queue.from_config(config)))
    host, _, port = config.relay.metrics_listen.rpartition(":")
    server, _thread = start_http_server(int(port), host or "127.0.0.1", registry=registry)
    log.info("metrics on http://%s:%d/metrics", *server.server_address[:2])
    return server


if __name__ == "__main__":
    sys.exit(main(sys.argv))
