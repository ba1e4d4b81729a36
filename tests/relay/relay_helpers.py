"""Helpers for daemon tests: a config on tmp_path (tests.configs with the relay's defaults), a relay
running in a thread, bounded waits."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from relay.daemon.relay import Relay
from relay.queue.folders import BADMAIL, DEFERRED, Queue
from relay.queue.history import Attempt, History
from settings import Config
from spooler.envelope import envelope_lines
from spooler.message import Address, Notification, build
from spooler.names import message_name
from spooler.pickup import PickupWriter
from tests.configs import build_config, config_file, merged


def relay_config(tmp_path: Path, port: int | None, *, pickup: dict | None = None,
                 sink: dict | None = None, webapp: dict | None = None, **relay: object) -> Config:
    """A config in tmp_path for a relay in this process: a smart host on 127.0.0.1:port, or, with
    smarthosts=[{...}, ...] (port None), several; 2 connections, a retry after 1s, and a host
    timeout of 2s unless a table says otherwise. Other keywords are [relay] keys."""
    defaults = {"retry_schedule": ["1s"], "connections": 2}
    return build_config(tmp_path, relay=relay_table(port, "2s", defaults, relay),
                        **given(pickup=pickup, sink=sink, webapp=webapp))


def relay_config_file(tmp_path: Path, port: int | None, *, pickup: dict | None = None,
                      sink: dict | None = None, webapp: dict | None = None, **relay: object) -> Path:
    """The config.toml for `relay` processes: as relay_config but one process, the default
    connections, log_level "info" and a host timeout of 5s."""
    defaults = {"retry_schedule": ["1s"], "log_level": "info", "processes": 1}
    return config_file(tmp_path, relay=relay_table(port, "5s", defaults, relay),
                       **given(pickup=pickup, sink=sink, webapp=webapp))


def relay_table(port: int | None, timeout: str, defaults: dict, relay: dict) -> dict:
    """[relay]: `relay` over `defaults`, with [relay.smarthost] on 127.0.0.1:port, or, given
    smarthosts=[...], a [[relay.smarthosts]] table each on 127.0.0.1; `timeout` unless they say."""
    relay = dict(relay)
    several = relay.pop("smarthosts", None)
    if several is not None:
        hosts = {"smarthosts": [{"host": "127.0.0.1", "timeout": timeout, **t} for t in several]}
    else:
        hosts = {"smarthost": {"port": port, "timeout": timeout}}
    return merged(merged(defaults, hosts), relay)


def given(**tables: dict | None) -> dict:
    """The tables besides [relay] that a test gave (None: not given)."""
    return {name: table for name, table in tables.items() if table is not None}


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


class RunningRelay:
    """Relay.run() in a thread; stopped and joined on exit."""

    def __init__(self, config: Config, settle: float = 0.2, share: tuple[int, int] | None = None):
        self.relay = Relay(config, settle=settle, share=share)
        self.thread = threading.Thread(target=self.relay.run, name="relay-main")

    def __enter__(self) -> Relay:
        self.thread.start()
        wait_until(lambda: self.relay.started.is_set() or not self.thread.is_alive(),
                   what="the relay to start")
        return self.relay

    def __exit__(self, *exc) -> None:
        self.relay.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "relay did not stop"


def drop_notification(config: Config, n: int = 0, to: list[str] | None = None,
                      priority: str = "transactional") -> Path:
    recipients = to or [f"user{n}@example.test"]
    message = build(Notification(
        sender=Address("noreply@example.test", "Q&A"),
        to=[Address(r) for r in recipients],
        subject=f"Notification {n}",
        text=f"Message number {n}.\n",
    ))
    return PickupWriter(config.pickup.dir).write(message, priority=priority)


def files(folder: Path, pattern: str = "*.eml") -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.exists() else []


RELAY_BIN = Path(sys.executable).parent / "relay"


def fill_disk(folder: Path) -> Path:
    """Write a ballast file into folder until its filesystem is full; returns the file."""
    ballast = folder / "ballast"
    with open(ballast, "wb", buffering=0) as f:
        for _ in range(1 << 20):  # bounded: a few hundred KB expected, 64 GB at most
            try:
                f.write(b"\0" * 65536)
            except OSError:
                break
        for _ in range(1 << 16):  # the last pages, a byte at a time
            try:
                f.write(b"\0" * 512)
            except OSError:
                break
    return ballast


def start_relay(config_path: Path, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - the child keeps it; closed with the process
    try:
        return subprocess.Popen([str(RELAY_BIN), "--config", str(config_path), "run"],
                                stdout=log, stderr=log)
    finally:
        log.close()


def message_ids(received) -> list[str]:
    ids = []
    for r in received:
        for line in r.content.split(b"\n"):
            if line.lower().startswith(b"message-id:"):
                ids.append(line.split(b":", 1)[1].strip().decode())
                break
    return ids


def log_count(path: Path, text: str) -> int:
    return path.read_text(errors="replace").count(text) if path.exists() else 0


def relay_cli(config_path: Path, *args: str, input: str | None = None):
    """`relay --config config_path ARGS...` in this process (click's CliRunner); the Result."""
    from click.testing import CliRunner

    from relay.cli.main import main
    return CliRunner().invoke(main, ["--config", str(config_path), *args], input=input)


def relay_cmd(config_path: Path, *args: str, input: str | None = None,
              timeout: float = 30) -> subprocess.CompletedProcess:
    """`relay --config config_path ARGS...` as a real process; output captured as text."""
    return subprocess.run([str(RELAY_BIN), "--config", str(config_path), *args], input=input,
                          capture_output=True, text=True, timeout=timeout, check=False)


def aged_queue_id(age: float = 0.0) -> str:
    """A queue id (24 lowercase hex digits) for a message that arrived `age` seconds ago."""
    return f"{int((time.time() - age) * 1e6):014x}{os.urandom(5).hex()}"


def place_queued(config: Config, folder: str, *, to: tuple[str, ...] = ("user@example.test",),
                 sender: str = "noreply@example.test", age: float = 0.0, due_in: float = 3600.0,
                 attempts: tuple[tuple[int | None, str], ...] = (), reason: str | None = None,
                 priority: str = "transactional") -> str:
    """Leave a message in <queue>/<folder>/ as the daemon would; returns its queue id.

    ID.eml (in deferred/ its mtime is the next attempt, due_in seconds from now),
    meta/ID.json with `attempts` as (code, reply) pairs, and in badmail/ the ID.bdr reason.
    """
    queue = Queue.from_config(config)
    queue.create()
    queue_id = aged_queue_id(age)
    arrived = time.time() - age
    path = queue.dirs[folder] / message_name(queue_id, priority)
    path.write_bytes(envelope_lines(sender, list(to)) + (
        f"From: <{sender}>\r\nTo: {', '.join(to)}\r\nSubject: queued {queue_id}\r\n"
        f"Message-ID: <{queue_id}@example.test>\r\n\r\nbody\r\n").encode())
    if folder == DEFERRED:
        os.utime(path, (time.time() + due_in,) * 2)
    if attempts:
        queue.save_history(queue_id, History(arrived, "placed.eml", attempts=[
            Attempt(arrived + n, code, reply, list(to)) for n, (code, reply) in enumerate(attempts)]))
    if folder == BADMAIL:
        (queue.dirs[BADMAIL] / f"{queue_id}.bdr").write_text(
            f"reason: {reason or 'refused by the smart host: 550 5.1.1 No such user'}\n"
            f"queue id: {queue_id}\nsender: <{sender}>\n")
    return queue_id
