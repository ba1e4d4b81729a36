"""Helpers for daemon tests: a config on tmp_path, a relay running in a thread, bounded waits."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from relay.daemon import Relay
from settings import Config, parse_config
from spooler.message import Address, Notification, build
from spooler.pickup import PickupWriter


def relay_config(tmp_path: Path, port: int, **relay: object) -> Config:
    smarthost = {"port": port, "timeout": "2s"}
    smarthost.update(relay.pop("smarthost", {}))  # type: ignore[arg-type]
    data = {
        "pickup": {"dir": "pickup"},
        "relay": {"queue_dir": "queue", "retry_schedule": ["1s"], "connections": 2,
                  **relay, "smarthost": smarthost},
    }
    config = parse_config(data, base_dir=tmp_path, source=None)
    config.pickup.dir.mkdir(exist_ok=True)
    return config


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


class RunningRelay:
    """Relay.run() in a thread; stopped and joined on exit."""

    def __init__(self, config: Config, settle: float = 0.2):
        self.relay = Relay(config, settle=settle)
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


def write_relay_toml(tmp_path: Path, port: int, extra_relay: str = "") -> Path:
    """A config.toml for `relay run` subprocesses: pickup and queue inside tmp_path."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[pickup]\ndir = "pickup"\n'
        f'[relay]\nqueue_dir = "queue"\nretry_schedule = ["1s"]\nlog_level = "info"\n{extra_relay}\n'
        f'[relay.smarthost]\nport = {port}\ntimeout = "5s"\n')
    (tmp_path / "pickup").mkdir(exist_ok=True)
    return path


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
