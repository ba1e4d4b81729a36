"""Run the whole chain locally on the embedded defaults: site + notification worker + relay +
sink + the sink's inbox, and the daily digests every minute; with [inbound] domains set, also
`relay receive` and the site's inbound worker (mail coming back: bounces, replies).

Refuses to start when a local run already holds var/run-local.pid (saying its
pid) or a port it needs is taken; while it runs, var/run-local.json beside the lock names the
config it runs, so `relay` and `flask` commands in the checkout read that one too
(settings.local_run); upgrades the site's database, starts each
part as a child process with the same config (the web inbox only when [sink]
web_port is not 0), runs `flask --app webapp send-digests` every DIGEST_EVERY
seconds (not at all when the site has no such command), says where to look, and on
Ctrl-C, SIGTERM or SIGHUP (a closed terminal) stops them all (SIGTERM, then a
bounded wait). If this process dies anyway, its parts are told to stop (Linux
parent-death signal), and so is it when `make` above it dies.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from channel.files import replace_file
from settings import ENV_VAR, load_config
from settings.local_run import LOCK_NAME, RECORD_NAME, record_bytes, shown
from settings.units import parse_listen

BIN = Path(sys.executable).parent
LOCK_TRIES = 5   # a few 50 ms tries: a command's probe of the lock is not another run
PR_SET_PDEATHSIG = 1
DIGEST_EVERY = 60.0   # seconds between `send-digests` runs; each sends only what is due


def stop_when_parent_dies() -> None:
    """Ask the kernel for SIGTERM when our parent exits (make killed, terminal gone)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def hold_run_lock(folder: Path) -> int:
    """One local run per checkout: lock var/run-local.pid or exit saying who holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    for attempt in range(LOCK_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            # A command asking whether a run is alive holds a shared lock for a moment.
            if attempt + 1 < LOCK_TRIES:
                time.sleep(0.05)
                continue
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            sys.exit(f"run_local: already running: pid {holder} (stop it with Ctrl-C in its "
                     f"terminal, or kill {holder})")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


@contextlib.contextmanager
def run_lock(folder: Path, config_path: Path | None):
    """Hold the run lock and say beside it which config this run runs (var/run-local.json),
    so `relay` and `flask` commands in the checkout read the same one; both go on exit."""
    lock = hold_run_lock(folder)
    try:
        replace_file(folder / RECORD_NAME, record_bytes(os.getpid(), config_path), 0o644)
        yield
    finally:
        (folder / RECORD_NAME).unlink(missing_ok=True)   # before the lock: never a live-looking record
        os.close(lock)


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def wait_for_port(host: str, port: int, child: subprocess.Popen, timeout: float = 10.0) -> None:
    """Until `child` answers on host:port, it exits, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None and not port_taken(host, port):
        time.sleep(0.05)


def with_ports(config, site_port: int | None, smtp_port: int | None,
               web_port: int | None = None) -> Path:
    """A copy of the config with the site's, the local sink's and its inbox's ports moved (the
    relay's smart host follows the sink when it pointed at it), beside the original so relative
    paths keep their meaning. The one place a local run's ports are set:
    `make run PORT=... SMTP_PORT=... WEB_PORT=...` (WEB_PORT=0: no inbox)."""
    data = {}
    if config.path is not None:
        with open(config.path, "rb") as f:
            data = tomllib.load(f)
    relay = data.setdefault("relay", {})
    # [[relay.smarthosts]] tables, or the one [relay.smarthost] (made when absent: defaults)
    tables = relay.get("smarthosts") or [relay.setdefault("smarthost", {})]
    if isinstance(tables, dict):
        tables = [tables]
    sink = data.setdefault("sink", {})
    if smtp_port:
        for table, host in zip(tables, config.relay.hosts, strict=True):
            if (host.host, host.port) == (config.sink.host, config.sink.port):
                table["port"] = smtp_port
        sink["port"] = smtp_port
    if web_port is not None:
        sink["web_port"] = web_port
    if site_port:
        site = urlsplit(config.webapp.base_url)
        data.setdefault("webapp", {})["base_url"] = site._replace(
            netloc=f"{site.hostname or '127.0.0.1'}:{site_port}").geturl()
    derived = config.base_dir / ".run-local.toml"
    derived.write_text("# Made by scripts/run_local.py for `make run PORT=... SMTP_PORT=... WEB_PORT=...`\n"
                       + toml_text(data))
    return derived


def toml_text(data: dict, table: str = "") -> str:
    """Just enough TOML for a config: strings, numbers, booleans, lists and tables."""
    plain = "".join(f"{key} = {json.dumps(value)}\n" for key, value in data.items()
                    if not isinstance(value, dict))
    head = f"[{table}]\n" if table and plain else ""
    nested = "".join(toml_text(value, f"{table}.{key}" if table else key)
                     for key, value in data.items() if isinstance(value, dict))
    return head + plain + nested


class Digests:
    """`send-digests` every `every` seconds as a short-lived child, one at a time; its
    exit never stops the run. A site without the command (exit 2, usage) turns it off."""

    def __init__(self, command: list[str], every: float):
        self.command = command
        self.every = every
        self.child: subprocess.Popen | None = None
        self.due = time.monotonic() + every
        self.off = False

    def tick(self, now: float) -> None:
        if self.child is not None:
            if self.child.poll() is None:
                return
            if self.child.returncode == 2:  # click's usage error: no such command here
                print("run_local: this site has no send-digests command; no digests are sent",
                      file=sys.stderr, flush=True)
                self.off = True
            self.child = None
        if not self.off and now >= self.due:
            self.due = now + self.every
            self.child = subprocess.Popen(self.command, start_new_session=True,
                                          preexec_fn=stop_when_parent_dies)

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.child.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description="site + relay + sink + inbox on one config")
    parser.add_argument("--config", help="config file (default: as every `relay` command)")
    parser.add_argument("--port", type=int, help="the site's port (moves [webapp] base_url)")
    parser.add_argument("--smtp-port", type=int, help="the local sink's port (and the relay's)")
    parser.add_argument("--web-port", type=int, help="the sink's web inbox's port (0: no inbox)")
    parser.add_argument("--digests-every", type=float, default=DIGEST_EVERY, metavar="SECONDS",
                        help=f"seconds between send-digests runs (default {DIGEST_EVERY:g})")
    options = parser.parse_args()
    if options.config:
        os.environ[ENV_VAR] = str(Path(options.config).resolve())
    config = load_config()
    if options.port or options.smtp_port or options.web_port is not None:
        os.environ[ENV_VAR] = str(with_ports(config, options.port, options.smtp_port,
                                             options.web_port))
        config = load_config()
    if config.path:   # every part named the one file, so none looks for a local run's record
        os.environ[ENV_VAR] = str(Path(config.path).resolve())
    stop_when_parent_dies()
    with run_lock(config.base_dir / "var", config.path):
        refuse_taken_ports(config)
        return run_parts(config, options.digests_every)


def refuse_taken_ports(config) -> None:
    """Exit before starting anything when a port a part needs is taken."""
    site = urlsplit(config.webapp.base_url)
    ports = [("site", site.hostname or "127.0.0.1", site.port or 5000),
             ("sink", config.sink.host, config.sink.port)]
    if config.sink.web_port:
        ports.append(("inbox", config.sink.host, config.sink.web_port))
    if config.inbound.domains:
        ports.append(("inbound SMTP server", *parse_listen(config.inbound.listen)))
    for what, host, port in ports:
        if port_taken(host, port):
            sys.exit(f"run_local: the {what}'s port {host}:{port} is taken by another program; "
                     "nothing was started")


def part_commands(config, flask: list[str]) -> dict[str, list[str]]:
    """The command of each part, by name, in the order they start."""
    relay = [str(BIN / "relay"), *(["--config", str(Path(config.path).resolve())] if config.path else [])]
    site = urlsplit(config.webapp.base_url)
    parts = {
        "sink": [*relay, "sink"],
        "relay": [*relay, "run"],
        "site": [*flask, "run", "--host", site.hostname or "127.0.0.1", "--port", str(site.port or 5000)],
        "outbox": [*flask, "outbox-worker"],
    }
    if config.sink.web_port:
        parts["inbox"] = [*relay, "inbox"]
    if config.inbound.domains:   # mail coming back: bounces, complaints, replies
        parts["receive"] = [*relay, "receive"]
        parts["inbound"] = [*flask, "inbound-worker"]
    return parts


def run_parts(config, digests_every: float) -> int:
    """Start every part, watch them until a stop signal or one exits, then stop them all."""
    flask = [str(BIN / "flask"), "--app", "webapp"]
    subprocess.run([*flask, "init-db"], check=True)
    parts = part_commands(config, flask)
    children: dict[str, subprocess.Popen] = {}
    digests = Digests([*flask, "send-digests"], digests_every)
    stop = False

    def request_stop(*_):
        nonlocal stop
        stop = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    try:
        for name, command in parts.items():
            # Own sessions: a Ctrl-C reaches only us, and we stop the parts in order.
            children[name] = subprocess.Popen(command, start_new_session=True,
                                              preexec_fn=stop_when_parent_dies)
            if name == "sink":   # it listens before the relay's first connection
                wait_for_port(config.sink.host, config.sink.port, children[name])
        say_where_to_look(config)
        while not stop:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"run_local: {name} exited with {child.returncode}; stopping",
                          file=sys.stderr, flush=True)
                    stop = True
            digests.tick(time.monotonic())
            time.sleep(0.2)
    finally:
        digests.stop()
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [n for n, c in children.items() if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed else 0


def say_where_to_look(config) -> None:
    print(f"run_local: site on {config.webapp.base_url}, notification worker, relay and sink "
          f"running; mail lands in {config.sink.maildir}/new; Ctrl-C stops everything", flush=True)
    if config.path and Path(config.path).name == ".run-local.toml":   # the issue: nothing said so
        print(f"run_local: this run reads {shown(config.path)} (its ports moved); `relay` and `flask` "
              f"commands run in {shown(config.base_dir)} read it too while the run lasts", flush=True)
    if config.sink.web_port:
        print(f"mail: http://{config.sink.host}:{config.sink.web_port}", flush=True)
    if config.inbound.domains:
        print(f"mail back: SMTP {config.inbound.listen} for {', '.join(config.inbound.domains)}"
              f", or `relay deliver-inbound`; read from {config.inbound.dir}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
