"""Two-phase placement in pickup, for writers that must place each message exactly once.

A writer that may be killed at any instant (the notification fan-out, the digests)
cannot make "the file is in pickup" and "my database says so" one atomic step, and
the relay takes a file away within milliseconds, so looking in pickup later proves
nothing. The order that makes it safe:

  1. stage(key, data): write `.KEY.TOKEN.tmp`, a name the relay ignores;
  2. sync(): one flush of the filesystem for the whole batch (not one fsync a file);
  3. the caller commits, in its database, that KEY was placed by TOKEN;
  4. publish(key): rename to `KEY.bulk.eml`, where the relay takes it.

Killed before 3, nothing was visible: the staged files are discarded and the work is
done again. Killed after 3, the staged file is whole and on disk, and whoever recovers
publishes it. TOKEN names the writing process, which holds an flock on
`.placer-TOKEN.lock` in pickup for its whole life: the kernel drops the lock when the
process dies, even by SIGKILL, so another process knows for certain whose staged files
it may finish or throw away (orphans()); a live writer's are never touched.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from spooler.names import BULK, message_name
from spooler.pickup import PICKUP_FILE_MODE, PickupError, explain, unlink_quietly

_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,60}")
_STAGED = re.compile(r"\.([a-z0-9][a-z0-9-]{0,60})\.([0-9a-f]{16})\.tmp")
_LOCK = re.compile(r"\.placer-([0-9a-f]{16})\.lock")
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Orphan:
    """A staged file whose writer is dead: publish it if its commit happened, else discard it."""
    key: str
    token: str
    path: Path


class StagedWriter:
    """One process's staging area in one pickup folder. Not for sharing between threads."""

    def __init__(self, pickup_dir: str | os.PathLike, *, priority: str = BULK, durable: bool = True):
        self.dir = Path(pickup_dir)
        self.priority = priority
        self.durable = durable
        self.token = secrets.token_hex(8)
        self._lock_path = self.dir / f".placer-{self.token}.lock"
        try:
            self._lock_fd = hold_lock(self._lock_path, self.dir / f".placer-{self.token}.making")
        except OSError as e:
            raise PickupError(f"pickup folder {self.dir}: cannot create a lock file: "
                              f"{e.strerror}") from e
        self._staged: set[str] = set()

    def stage(self, key: str, data: bytes) -> None:
        if not _KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a staging key (lowercase letters, digits, '-')")
        path = self._staged_path(key)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PICKUP_FILE_MODE)
            try:
                os.fchmod(fd, PICKUP_FILE_MODE)  # whatever the umask: the relay's group reads it
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError as e:
            unlink_quietly(path)
            raise PickupError(explain(self.dir, e)) from e
        self._staged.add(key)

    def sync(self) -> None:
        """Make every staged file durable before the caller commits: one syncfs() for the batch."""
        if not self.durable or not self._staged:
            return
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if _libc.syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise PickupError(f"pickup folder {self.dir}: cannot flush staged messages: "
                                  f"{os.strerror(err)}")
        finally:
            os.close(fd)

    def publish(self, keys) -> int:
        """Rename staged files into place (after their commit); returns how many were placed."""
        placed = 0
        for key in keys:
            if _publish(self.dir, self._staged_path(key), key, self.priority):
                placed += 1
            self._staged.discard(key)
        if placed and self.durable:
            _fsync_dir(self.dir)
        return placed

    def discard(self, keys=None) -> None:
        """Throw staged files away (their commit failed or will not happen); all when keys is None."""
        for key in list(self._staged) if keys is None else keys:
            unlink_quietly(self._staged_path(key))
            self._staged.discard(key)

    def close(self) -> None:
        """Give up the lock. Whatever is still staged is left for recovery, as after a kill:
        an exception may have left a batch whose commit happened (or whose COMMIT's answer was
        lost), and only the database can say whether to publish or discard it."""
        unlink_quietly(self._lock_path)
        os.close(self._lock_fd)

    def _staged_path(self, key: str) -> str:
        # A str, not a Path: pathlib's joining costs more than the write itself at 10,000 a batch run.
        return f"{self.dir}/.{key}.{self.token}.tmp"


def hold_lock(path: Path, making: Path) -> int:
    """Create the lock file `path` and hold an flock on it for as long as the returned fd is
    open: the kernel drops it when the process dies, even by SIGKILL, so is_held() tells a live
    holder from a dead one. Locked under the name `making` first, so the file never shows
    unlocked while its holder lives. Raises OSError."""
    fd = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(making, path)
    except OSError:
        os.close(fd)
        unlink_quietly(making)
        raise
    return fd


def is_alive(pickup_dir: str | os.PathLike, token: str) -> bool:
    """Whether the process that staged under `token` in this folder still runs."""
    return is_held(Path(pickup_dir) / f".placer-{token}.lock")


def is_held(lock_path: str | os.PathLike) -> bool:
    """Whether a live process holds the lock file (hold_lock()) at `lock_path`."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def orphans(pickup_dir: str | os.PathLike) -> list[Orphan]:
    """Staged files in the folder whose writers are dead, oldest writer first."""
    folder = Path(pickup_dir)
    alive: dict[str, bool] = {}
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _STAGED.fullmatch(entry.name)
            if match is None:
                continue
            key, token = match.groups()
            if token not in alive:
                alive[token] = is_alive(folder, token)
            if not alive[token]:
                found.append(Orphan(key, token, Path(entry.path)))
    return found


def publish_orphans(pickup_dir: str | os.PathLike, found: list[Orphan], *,
                    priority: str = BULK) -> int:
    folder = Path(pickup_dir)
    placed = sum(_publish(folder, o.path, o.key, priority) for o in found)
    if placed:
        _fsync_dir(folder)
    return placed


def discard_orphans(found: list[Orphan]) -> None:
    for orphan in found:
        unlink_quietly(orphan.path)


def remove_dead_locks(pickup_dir: str | os.PathLike) -> None:
    """Remove the lock files of dead writers once their staged files are dealt with."""
    folder = Path(pickup_dir)
    staged_tokens = {m.group(2) for m in map(_STAGED.fullmatch, os.listdir(folder)) if m}
    for name in os.listdir(folder):
        match = _LOCK.fullmatch(name)
        if match and match.group(1) not in staged_tokens and not is_alive(folder, match.group(1)):
            unlink_quietly(folder / name)


def _publish(folder: Path, staged: str | Path, key: str, priority: str) -> bool:
    try:
        os.rename(staged, f"{folder}/{message_name(key, priority)}")
    except FileNotFoundError:
        return False  # another process recovering the same writer placed it first
    return True


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError:
        pass  # the files are placed and their data synced; only the entries' durability is in doubt
    finally:
        os.close(fd)
