"""The drop folder as the inbound worker sees it: where it is, the files waiting, a claim, and
the ways out (removed once recorded, or badmail/ with a reason file beside it).

`relay receive` and `relay deliver-inbound` write each inbound message into [inbound] dir
under a name a reader ignores (a leading "." or a ".tmp" end) and rename it into place whole;
every other plain file at the top of the folder is a message waiting. A worker claims one by
renaming it into its own folder, processing/TOKEN/: one rename, so of several workers exactly
one gets it. It holds an flock on processing/TOKEN.lock for its whole life
(spooler.staged.hold_lock): the kernel drops it when the worker dies, even by SIGKILL, so
recover() knows for certain which claims are a dead worker's and hands their files back to
the top of the folder, where the database's record decides (webapp.inbound.worker). A file
that cannot be handled is moved to badmail/NAME with NAME.reason, one line a person reads;
nothing is removed that was not recorded first. Raises DropFolderError, saying what to fix,
when the folder cannot be made or written.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

from channel.files import replace_file
from settings import Config
from spooler.pickup import unlink_quietly
from spooler.staged import hold_lock, is_held

PROCESSING = "processing"
BADMAIL = "badmail"
REASON_SUFFIX = ".reason"
FILE_MODE = 0o640


class DropFolderError(Exception):
    """The drop folder cannot be used as it is; the message says which folder and what to do."""


def drop_folder(config: Config) -> Path:
    """The folder the relay fills: [inbound] dir."""
    return Path(config.inbound.dir)


def is_waiting(name: str) -> bool:
    """Whether a name at the top of the folder is a whole message (not one being written)."""
    return not name.startswith(".") and not name.endswith(".tmp") and not name.endswith(REASON_SUFFIX)


class DropFolder:
    """One worker's hold on the drop folder at `path`. Not for sharing between threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.token = secrets.token_hex(8)
        processing = self.path / PROCESSING
        try:
            for folder in (self.path, processing, self.path / BADMAIL):
                folder.mkdir(mode=0o750, exist_ok=True)
            self._lock_fd = hold_lock(processing / f"{self.token}.lock",
                                      processing / f".{self.token}.making")
            self.claims = processing / self.token
            self.claims.mkdir(mode=0o750)
        except OSError as e:
            raise DropFolderError(f"drop folder {self.path}: {e.strerror} ({e.filename}): make it "
                                  "writable by the site's user, or set [inbound] dir") from None

    def waiting(self, limit: int) -> list[str]:
        """Up to `limit` names of files waiting, in name order."""
        with os.scandir(self.path) as entries:
            names = [e.name for e in entries if is_waiting(e.name) and e.is_file(follow_symlinks=False)]
        names.sort()
        return names[:limit]

    def claim(self, name: str) -> Path | None:
        """The file `name`, now ours alone; None when another worker took it first."""
        claimed = self.claims / name
        try:
            os.rename(self.path / name, claimed)
        except FileNotFoundError:
            return None
        return claimed

    def remove(self, claimed: Path) -> None:
        """A file whose record is committed: gone."""
        unlink_quietly(claimed)

    def to_badmail(self, claimed: Path, reason: str) -> Path:
        """Keep a file that could not be handled in badmail/, with its reason beside it."""
        badmail = self.path / BADMAIL
        name = claimed.name
        if (badmail / name).exists():   # never replace an earlier file of the same name
            name = f"{name}.{self.token}"
        replace_file(badmail / f"{name}{REASON_SUFFIX}", (reason.strip() + "\n").encode(),
                     FILE_MODE, fsync=True)
        os.rename(claimed, badmail / name)
        return badmail / name

    def recover(self) -> int:
        """Hand the files of dead workers' claims back to the folder; returns how many."""
        processing = self.path / PROCESSING
        handed_back = 0
        with os.scandir(processing) as entries:
            others = [e.name for e in entries if e.is_dir(follow_symlinks=False)
                      and e.name != self.token]
        for token in others:
            lock = processing / f"{token}.lock"
            if is_held(lock):
                continue
            folder = processing / token
            for name in os.listdir(folder):
                try:
                    os.rename(folder / name, self.path / name)
                    handed_back += 1
                except FileNotFoundError:   # another worker recovering the same one was first
                    pass
            shutil.rmtree(folder, ignore_errors=True)
            unlink_quietly(lock)
        return handed_back

    def close(self) -> None:
        """Give up the claim folder (empty when every claim was finished) and the lock."""
        try:
            self.claims.rmdir()
        except OSError:
            pass   # a claim left: recover() by the next worker hands it back
        unlink_quietly(self.claims.with_name(f"{self.token}.lock"))
        os.close(self._lock_fd)


def folder_counts(path: Path) -> dict[str, float]:
    """Files waiting (and the oldest's age in seconds), claimed by a worker now, and in badmail;
    a folder not made yet counts nothing."""
    waiting = _listing(path, lambda e: is_waiting(e.name) and e.is_file(follow_symlinks=False))
    ages = []
    for entry in waiting:
        try:
            ages.append(time.time() - entry.stat(follow_symlinks=False).st_mtime)
        except FileNotFoundError:   # taken meanwhile
            pass
    claims = _listing(path / PROCESSING, lambda e: e.is_dir(follow_symlinks=False))
    return {"waiting": len(waiting), "oldest_waiting_s": round(max(ages, default=0.0), 1),
            "processing": sum(len(_listing(Path(c.path), lambda e: True)) for c in claims),
            "badmail": len(_listing(path / BADMAIL, lambda e: not e.name.endswith(REASON_SUFFIX)))}


def _listing(folder: Path, wanted) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return [e for e in entries if wanted(e)]
    except FileNotFoundError:
        return []
