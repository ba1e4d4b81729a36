"""The queue's folders: where each state of a message lives, and how to find a message.

    pickup/x.eml --claim--> active/ID.eml --delivered--> gone, or sent/ID.eml (archive)
                                 |--defer-----> deferred/ID.eml   (mtime = next attempt)
                                 |--badmail---> badmail/ID.eml + badmail/ID.bdr (reason)
    deferred/ID.eml --claim--> active/ID.eml;   hold/ <-> deferred/ (admin)

A message's state is the folder it sits in; every move is one rename() on one
filesystem (relay.queue.claims takes a message in, relay.queue.moves moves a claimed
one on, relay.queue.admin_moves does what an admin asks). Bulk messages carry `.bulk`
in their name (ID.bulk.eml) so order needs no open(). The attempt history lives in
meta/ID.json (relay.queue.history), which never moves; a badmail message's reason in
badmail/ID.bdr (relay.queue.badmail). The queue is the relay's alone (folders 0700,
files 0600). Reads [relay] queue_dir, archive and [pickup] dir. Raises QueueSetupError
when the folders cannot be made or pickup and queue are on two filesystems.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from channel.files import replace_file
from relay.queue.files import NO_SPACE_ERRNOS, PRIVATE_DIR, PRIVATE_FILE
from relay.queue.history import History
from settings import Config
from spooler.names import BULK, TRANSACTIONAL, is_message_name, is_queue_id, message_name, priority_of
from spooler.pickup import unlink_quietly

PICKUP = "pickup"
ACTIVE, DEFERRED, HOLD, BADMAIL, SENT = "active", "deferred", "hold", "badmail", "sent"
FOLDERS = (ACTIVE, DEFERRED, HOLD, BADMAIL, SENT)
STALE_TEMP_AGE = 3600.0   # a hidden temporary file this old was left by a killed writer


class QueueSetupError(Exception):
    """The queue cannot work with these folders; the message says what to fix."""


class Queue:
    def __init__(self, queue_dir: str | os.PathLike, pickup_dir: str | os.PathLike, *,
                 archive: bool = False):
        self.uid = os.geteuid()
        self.root = Path(queue_dir)
        self.pickup = Path(pickup_dir)
        self.pickup_str = str(self.pickup)
        self.archive = archive
        self.dirs = {name: self.root / name for name in FOLDERS}
        self._dir_strs = {name: str(path) for name, path in self.dirs.items()}
        self.meta_dir = self.root / "meta"
        self._meta_path = str(self.meta_dir)

    def file(self, folder: str, name: str) -> str:
        """folder/name as a plain string (the claim and the moves: a Path costs a parse a use)."""
        return f"{self._dir_strs[folder]}/{name}"

    @classmethod
    def from_config(cls, config: Config) -> Queue:
        """The queue [relay] queue_dir, archive and [pickup] dir describe: the one way to build it."""
        return cls(config.relay.queue_dir, config.pickup.dir, archive=config.relay.archive)

    def create(self) -> None:
        """Make the folders (if missing) and check they can work together."""
        folders = [(self.pickup, 0o777)] + [(path, PRIVATE_DIR) for path in
                                            (self.root, *self.dirs.values(), self.meta_dir)]
        for path, mode in folders:
            try:
                path.mkdir(mode=mode, parents=True, exist_ok=True)
            except OSError as e:
                hint = ": free some space on that filesystem" if e.errno in NO_SPACE_ERRNOS else ""
                raise QueueSetupError(f"cannot create folder {path}: {e.strerror}{hint}") from None
            if not os.access(path, os.W_OK | os.X_OK):
                raise QueueSetupError(f"folder {path} is not writable by this user")
        pickup_dev = self.pickup.stat().st_dev
        if self.root.stat().st_dev != pickup_dev:
            raise QueueSetupError(
                f"pickup {self.pickup} and queue {self.root} are on different filesystems: "
                "claims are rename()s and need one filesystem; put [relay] queue_dir "
                "on the same filesystem as [pickup] dir")

    def locate(self, queue_id: str) -> tuple[str, Path] | None:
        """(folder, path) of a queued message, or None."""
        if not is_queue_id(queue_id):
            return None
        # Plain strings: building ten Paths cost more than the system calls. (Claims ask
        # relay.queue.queued_ids instead, which answers from listings.)
        names = (message_name(queue_id, TRANSACTIONAL), message_name(queue_id, BULK))
        for folder in (DEFERRED, HOLD, ACTIVE, BADMAIL, SENT):
            for name in names:
                path = self.file(folder, name)
                if os.path.lexists(path):
                    return folder, Path(path)
        return None

    def badmail_since(self, since: float) -> int:
        """How many messages went to badmail after `since` (a reason file's mtime is that moment)."""
        count = 0
        for entry in os.scandir(self.dirs[BADMAIL]):
            try:
                if entry.name.endswith(".bdr") and entry.stat().st_mtime > since:
                    count += 1
            except FileNotFoundError:
                continue
        return count

    def reason(self, queue_id: str) -> str | None:
        try:
            return self.reason_path(queue_id).read_text(errors="replace")
        except FileNotFoundError:
            return None

    # -- listings ---------------------------------------------------------------------------

    def due(self, folder: str, now: float) -> tuple[list[str], float]:
        """Names in folder whose mtime (next attempt) has come, in dispatch order,
        and the earliest mtime still to come (inf if none)."""
        due, next_due = [], float("inf")
        for entry in os.scandir(self.dirs[folder]):
            if not is_message_name(entry.name):
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            if mtime <= now:
                due.append((priority_of(entry.name) != TRANSACTIONAL, mtime, entry.name))
            else:
                next_due = min(next_due, mtime)
        return [name for *_key, name in sorted(due)], next_due

    def names(self, folder: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.dirs[folder]) if is_message_name(n))
        except FileNotFoundError:  # before the first `relay run` made the folders
            return []

    # -- history ----------------------------------------------------------------------------

    def history_path(self, queue_id: str) -> str:
        """Where the message's attempt history lives (a plain string: asked per message)."""
        return os.path.join(self._meta_path, queue_id + ".json")

    def history(self, queue_id: str) -> History | None:
        # Plain os calls: `relay list` reads one of these per queued message.
        try:
            fd = os.open(self.history_path(queue_id), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            return History.from_json(os.read(fd, 1 << 20))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged history must not stop delivery; attempts restart at 0
        finally:
            os.close(fd)

    def save_history(self, queue_id: str, history: History) -> None:
        replace_file(Path(self.history_path(queue_id)), history.to_json().encode(), PRIVATE_FILE)

    def drop_history(self, queue_id: str) -> None:
        Path(self.history_path(queue_id)).unlink(missing_ok=True)

    # -- badmail reason files (relay.queue.badmail writes their text) ----------------------

    def reason_path(self, queue_id: str) -> Path:
        return self.dirs[BADMAIL] / f"{queue_id}.bdr"

    def write_reason(self, queue_id: str, reason: str) -> None:
        replace_file(self.reason_path(queue_id), reason.encode(), PRIVATE_FILE)

    def drop_reason(self, queue_id: str) -> None:
        self.reason_path(queue_id).unlink(missing_ok=True)

    def sweep_stale_temp_files(self, now: float) -> int:
        """Remove what a relay killed in mid-write left in meta/ and badmail/ (its hidden
        `.NAME.RANDOM.tmp`), once it is an hour old: no live write takes that long."""
        stale = [entry.path for folder in (self.meta_dir, self.dirs[BADMAIL])
                 for entry in os.scandir(folder) if _stale_temp(entry, now)]
        for path in stale:
            unlink_quietly(path)
        return len(stale)

    def exposed_folders(self) -> list[str]:
        """Queue folders whose modes let other users in (queued mail holds reset links)."""
        found = []
        for path in (self.root, *self.dirs.values(), self.meta_dir):
            try:
                mode = path.stat().st_mode
            except FileNotFoundError:
                continue
            if mode & 0o077:
                found.append(f"{path} is mode {stat.S_IMODE(mode):04o}")
        return found


def _stale_temp(entry: os.DirEntry, now: float) -> bool:
    if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
        return False
    try:
        return now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_AGE
    except FileNotFoundError:
        return False
