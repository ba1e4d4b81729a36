"""Which relays are running on a queue: one locked pid file per process in <queue>/pids/.

Several relays may share a queue, so each writes pids/PID.pid (JSON: pid,
host, start time) and holds an flock on it for its whole life. A file whose
lock can be taken belongs to a relay that died: it is stale, reported and
removed. Admin commands use this to show uptime and to wake the daemons.
A relay that cannot write its pid file (a full disk) runs without one: it
delivers (which is what frees space), but status does not list it and retry
cannot wake it; acquire() leaves nothing behind when it fails.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RelayProcess:
    pid: int
    host: str
    started: float
    supervisor: int | None = None   # the `relay run` that started it, when one did

    @property
    def uptime(self) -> float:
        return time.time() - self.started


class PidFile:
    def __init__(self, queue_dir: Path, supervisor: int | None = None):
        self.path = Path(queue_dir) / "pids" / f"{os.getpid()}.pid"
        self.supervisor = supervisor
        self.fd: int | None = None

    def acquire(self) -> None:
        """Write and lock this process's pid file. Raises OSError (ENOSPC on a full disk),
        leaving no file behind."""
        # Written and locked under a hidden name, then renamed: a reader never sees an
        # unlocked (so "stale") or empty pid file of a live relay.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                    "supervisor": self.supervisor}
            data = json.dumps(info).encode()
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(temp))
            os.rename(temp, self.path)
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None


def running_relays(queue_dir: Path) -> tuple[list[RelayProcess], int]:
    """The live relays on this queue, and how many stale pid files were cleared."""
    folder = Path(queue_dir) / "pids"
    live, stale = [], 0
    if not folder.is_dir():
        return live, stale
    for path in folder.glob("*.pid"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # held: that relay is alive
                data = json.loads(os.read(fd, 4096) or b"{}")
                live.append(RelayProcess(int(data.get("pid", 0)), data.get("host", ""),
                                         float(data.get("started", 0)), data.get("supervisor")))
                continue
            path.unlink(missing_ok=True)
            stale += 1
        except (ValueError, OSError):
            continue
        finally:
            os.close(fd)
    return sorted(live, key=lambda r: r.started), stale


def wake_relays(queue_dir: Path) -> int:
    """Ask the relays on this host to look at deferred/ now (SIGUSR1); returns how many."""
    host, woken = socket.gethostname(), 0
    for relay in running_relays(queue_dir)[0]:
        if relay.host == host:
            try:
                os.kill(relay.pid, signal.SIGUSR1)
                woken += 1
            except ProcessLookupError:
                pass
    return woken
