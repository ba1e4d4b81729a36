"""The queue's file primitives: open and lock without following links, copy, write privately.

Every queue module reads and writes files through these, so the rules hold everywhere:
nothing is followed (O_NOFOLLOW: a symlink is an Unclaimable file, never its target), a
file is locked (flock) before it is moved, a small file is replaced whole
(channel.files.replace_file, mode 0600), and a full disk is NoSpace naming what could
not be written. Also the words for files that are not messages (file_kind).
"""

from __future__ import annotations

import errno
import fcntl
import grp
import os
import pwd
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spooler.pickup import unlink_quietly

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600   # the queue is the relay's user's alone
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class NoSpace(Exception):
    """The queue's filesystem is full: says what could not be written. The message has not
    moved: its claim still holds it in active/."""


class Unclaimable(Exception):
    """A file the relay will not read; it goes to badmail untouched, with this reason."""


class NotRegularFile(Unclaimable):
    """A symlink, fifo, device or folder where a message file was expected."""


class Unreadable(Unclaimable):
    """A file the relay's user may not read (its writer's umask or mode shut the relay out)."""


class HardLinked(Unclaimable):
    """A file with a second name: reading it could mail out a file its sender may not read."""


@contextmanager
def no_space(what: str) -> Iterator[None]:
    """Turn a full disk's OSError into NoSpace naming what could not be written."""
    try:
        yield
    except OSError as e:
        if e.errno not in NO_SPACE_ERRNOS:
            raise
        raise NoSpace(f"no space left on device for {what}") from None


def copy_bytes(source: int, target: int, size: int) -> int:
    """Copy the first `size` bytes of source (fewer if it is shorter); returns how many.
    Bounded: a writer still appending cannot keep the copy going."""
    copied = 0
    try:
        while copied < size and (n := os.copy_file_range(source, target, min(size - copied, 1 << 24))):
            copied += n
        return copied
    except OSError as e:  # a filesystem or kernel without it: plain reads and writes
        if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    os.lseek(source, 0, os.SEEK_SET)
    os.lseek(target, 0, os.SEEK_SET)
    os.ftruncate(target, 0)
    copied = 0
    while copied < size and (chunk := os.read(source, min(size - copied, 1 << 20))):
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view):]
        copied += len(chunk)
    return copied


def drop_unlocked(path: str) -> None:
    """Remove a leftover file unless a live relay holds it (then it is still in the making)."""
    try:
        fd = open_locked(Path(path))
    except (NotRegularFile, OSError):
        return
    if fd is not None:
        unlink_quietly(path)
        os.close(fd)


def open_locked(path: Path | str) -> int | None:
    """Open a regular file without following links and lock it; None if gone or busy."""
    locked = lock_regular_file(path)
    return None if locked is None else locked[0]


def lock_regular_file(path: Path | str) -> tuple[int, os.stat_result] | None:
    """open_locked(), and the file's stat as it is once locked (what a claim decides by);
    None if gone or busy."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotRegularFile("a symbolic link: not followed, its target left untouched") from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise Unreadable(unreadable_reason(Path(path))) from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        st = os.fstat(fd)   # after the lock: a relay that held it may have moved the file on
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"not a regular file ({file_kind(st.st_mode)}): not read")
    except BlockingIOError:
        os.close(fd)
        return None  # another live relay holds it
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def unreadable_reason(path: Path) -> str:
    try:
        st = os.stat(path, follow_symlinks=False)
        whose = f"owner {user_name(st.st_uid)}, group {group_name(st.st_gid)}, " \
                f"mode {stat.S_IMODE(st.st_mode):04o}"
    except OSError:
        whose = "its owner and mode unknown"
    return (f"not readable by the relay's user ({whose}): writers must leave pickup files "
            "readable by the relay's group (see docs/production.md)")


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def same_file(fd: int, path: Path | str) -> bool:
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, for messages: 'a fifo', 'a folder'..."""
    for test, name in ((stat.S_ISFIFO, "a fifo"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "not a regular file"
