"""`relay run` on several cores: one relay process per core, sharing the queue folders.

One Python process tops out near 1,600 messages/s here (the GIL, not the network);
the claim protocol (flock, then rename) already lets relays share folders, so this
supervisor starts [relay] processes children (0 = one per CPU), splits
`connections` between them, forwards SIGTERM/SIGINT/SIGHUP/SIGUSR1, restarts a
child that dies (a crash loses nothing: its active/ files are taken again), and
exits 0 once every child has stopped. A child that exits 2 (bad config or
folders) stops them all with exit 2. With metrics on, the children write to a
shared prometheus multiprocess folder and the supervisor serves the sum.
`relay run` checks the config, the keys and the folders, loads the daemon's modules
and forks the children from itself (start_children: no child starts an interpreter and
loads them again), then execs this module (become_supervisor: same pid, so the children
stay its own, and a fresh interpreter without the CLI's and the daemon's modules, so the
supervisor holds about 18 MB, not 31). A child that dies is started afresh.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:   # the exec'd supervisor does not load the settings (~30 ms of CPU a start)
    from settings import Config

log = logging.getLogger("relay")

RESTART_PAUSE = 2.0
CHILD_ENV = "PICKUP_RELAY_CHILD"          # "index/count" for a child process
PASSED_ON = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)   # to every child


def process_count(config: Config) -> int:
    wanted = config.relay.processes or os.cpu_count() or 1
    return max(1, min(wanted, config.relay.connections))


def start_children(config: Config, config_path: str | None, count: int) -> tuple[int, int]:
    """Fork the relay processes from this `relay run` (it has read the config, taken the
    queue's owner, checked the keys and the folders) once the daemon's modules are loaded,
    so no child loads them again (each did, ~0.16 s of CPU before its first delivery);
    then replace this process by the lean supervisor, same pid (become_supervisor).
    Returns (index, count) in a child; never returns in this process."""
    _prepare_metrics_dir(config)   # before prometheus_client is loaded: it reads the folder then
    import relay.daemon.relay  # noqa: F401 - loaded once, shared by the children

    sys.stdout.flush()
    sys.stderr.flush()
    pids = []
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            random.seed()   # the retry jitter: not the same sequence in every child
            _term_when_parent_dies()
            return index, count
        pids.append(pid)
    # Held, not lost, until the supervisor's handlers are in place (a mask survives exec):
    # a SIGTERM while it starts is a clean stop, not a killed supervisor.
    signal.pthread_sigmask(signal.SIG_BLOCK, PASSED_ON)
    become_supervisor(config, config_path, count, pids)


def _prepare_metrics_dir(config: Config) -> None:
    """With metrics on, the children write to a fresh prometheus multiprocess folder."""
    if config.relay.metrics_listen:
        metrics_dir = config.relay.queue_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)


def run_supervisor(config_path: str | None, count: int, pids: list[int], queue_dir: str,
                   metrics: Config | None = None) -> int:
    """Watch the children start_children() forked (`pids`), restart one that dies (a fresh
    `python -m relay run`), pass signals on; the exit code of `relay run`. `metrics`: the
    config, when [relay] metrics_listen asks the supervisor to serve the children's sum."""
    metrics_dir = metrics.relay.queue_dir / "metrics" if metrics is not None else None
    command = [sys.executable, "-m", "relay"] + (["--config", config_path] if config_path else []) + ["run"]
    children: dict[int, int] = dict(enumerate(pids))   # index -> pid
    stopping = False
    pending: list[int] = []   # signals to pass on; the handler only appends (no locks)

    def start(index: int) -> None:
        # posix_spawn, not subprocess: a Popen object would reap the children waitpid() watches
        children[index] = os.posix_spawn(sys.executable, command,
                                         {**os.environ, CHILD_ENV: f"{index}/{count}"})

    def forward(signum: int) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
            signum = signal.SIGTERM
        for pid in children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for signum in PASSED_ON:
        signal.signal(signum, lambda signum, _frame: pending.append(signum))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, PASSED_ON)   # what came while it started, now
    server = _serve_metrics(metrics, metrics_dir) if metrics is not None else None
    log.info("relay supervisor: %d processes sharing %s", count, queue_dir)
    exit_code = 0
    try:
        while children:
            time.sleep(0.2)
            while pending:
                forward(pending.pop(0))
            for index, pid in list(children.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done == 0:
                    continue
                code = os.waitstatus_to_exitcode(status)
                del children[index]
                if stopping:
                    continue
                if code == 2:  # config or folders: restarting cannot help
                    log.error("relay process %d exited 2: stopping all", pid)
                    exit_code = 2
                    forward(signal.SIGTERM)
                    continue
                log.error("relay process %d died (exit %s): restarting it", pid, code)
                time.sleep(RESTART_PAUSE)
                start(index)
    finally:
        for pid in children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if server is not None:
            server.shutdown()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return exit_code


def become_supervisor(config: Config, config_path: str | None, count: int, pids: list[int]) -> NoReturn:
    """Replace this `relay run` by a lean supervisor of the children `pids`, same pid (so
    they stay its children): python -m relay.daemon.supervisor. The CLI, SMTP and queue
    modules it no longer needs stay out of its memory (~10 MB of peak RSS), and so do the
    settings: what it needs of the config comes in its arguments (it reads the config
    again only to serve metrics)."""
    relay = config.relay
    os.execv(sys.executable, [sys.executable, "-m", "relay.daemon.supervisor", config_path or "",
                              str(count), str(relay.queue_dir), relay.log_level,
                              str(relay.log_file or ""), "metrics" if relay.metrics_listen else "-",
                              *map(str, pids)])


def main(argv: list[str]) -> int:
    """The supervisor become_supervisor() starts: argv is
    [_, config path or "", count, queue folder, log level, log file or "", "metrics" or "-",
    pid...]."""
    from relay.daemon.logsetup import configure_logging

    config_path, count, queue_dir, level, log_file, metrics = argv[1] or None, int(argv[2]), *argv[3:7]
    pids = [int(pid) for pid in argv[7:]]
    configure_logging(level, Path(log_file) if log_file else None)
    config = None
    if metrics == "metrics":
        from settings import ConfigError, load_config
        try:
            config = load_config(config_path)
        except ConfigError as e:   # changed since `relay run` read it a moment ago
            log.error("config error: %s: metrics not served", e)
    return run_supervisor(config_path, count, pids, queue_dir, config)


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
