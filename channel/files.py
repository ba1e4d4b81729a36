"""Small files replaced whole: the one way the site and the relay write a status, a request,
a result or a note that another process reads while it may be rewritten.

replace_file() writes the bytes to a hidden temporary file beside the target
(`.NAME.RANDOM.tmp`, created O_EXCL|O_NOFOLLOW: a link planted at that name is never
followed), writes until every byte is down (a short write on a full disk ends in
ENOSPC, never in half a file), sets the mode whatever the umask, optionally fsyncs
the data, then rename()s it over the target: a reader sees the old file or the new
one, whole. A symlink at the target is replaced, never followed. On any failure
the temporary file is removed, the old file stays, and the OSError goes to the
caller. create_file() is the same for a file made once: the first writer wins and
later ones get FileExistsError. The folder is not synced: a crash right after the
rename may bring back the old file (never a partial one), which every caller can
live with, and syncing a folder needs read access the site lacks on requests/.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from spooler.pickup import unlink_quietly

TEMP_TRIES = 3   # a name taken by someone else's file or link: try another random one


def replace_file(path: str | os.PathLike, data: bytes, mode: int, fsync: bool = False) -> None:
    """Replace `path` with `data` atomically, mode `mode`; raises OSError, the old file kept."""
    target = Path(path)
    temp = _write_temp(target, data, mode, fsync)
    try:
        os.rename(temp, target)
    except BaseException:
        unlink_quietly(temp)
        raise


def create_file(path: str | os.PathLike, data: bytes, mode: int, fsync: bool = False) -> None:
    """Make `path` whole with `data` unless it exists (FileExistsError: another writer won)."""
    target = Path(path)
    temp = _write_temp(target, data, mode, fsync)
    try:
        os.link(temp, target)   # unlike rename(), never replaces what is there
    finally:
        unlink_quietly(temp)


def _write_temp(target: Path, data: bytes, mode: int, fsync: bool) -> Path:
    """A hidden file beside `target` holding all of `data`, mode `mode`, synced if asked."""
    temp, fd = _open_temp(target, mode)
    try:
        try:
            os.fchmod(fd, mode)   # os.open's mode passes through the umask
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(temp))
                view = view[written:]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        unlink_quietly(temp)
        raise
    return temp


def _open_temp(target: Path, mode: int) -> tuple[Path, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(TEMP_TRIES - 1):
        temp = _temp_name(target)
        try:
            return temp, os.open(temp, flags, mode & 0o777)
        except FileExistsError:
            continue
    temp = _temp_name(target)
    return temp, os.open(temp, flags, mode & 0o777)


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
