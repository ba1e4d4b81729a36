"""The queue: its folders and every legal move between them.

    pickup/x.eml --claim--> active/ID.eml --delivered--> gone, or sent/ID.eml (archive)
                                 |--defer-----> deferred/ID.eml   (mtime = next attempt)
                                 |--badmail---> badmail/ID.eml + badmail/ID.bdr (reason)
    deferred/ID.eml --claim--> active/ID.eml;   hold/ <-> deferred/ (admin)

A message's state is the folder it sits in; every move is one rename() on one
filesystem. Bulk messages carry `.bulk` in their name (ID.bulk.eml) so order
needs no open(). The attempt history lives in meta/ID.json, which never moves.

Claim protocol (several relays may share these folders): open the file,
flock(LOCK_EX|LOCK_NB) it, then move it out of the shared folder. The lock
follows the inode; a relay holds it until the message has left active/, and
the kernel drops it if the relay dies. So a live relay's message is never
taken twice, and a dead relay's active/ files are free to recover.

Ownership: the queue is the relay's alone (folders 0700, files 0600). A pickup
file the relay's user owns is hard-linked into active/ (no copy); one written
by another user (the site as www-data) cannot be linked under
fs.protected_hardlinks, nor re-dated or made private by a non-owner, so it is
copied into a private file, synced, and only then unlinked from pickup.
Files with a second name (a hard link planted in pickup) are never read.
A writer may still be at a file the watcher thought complete (a `cp` that
paused): a copy whose source changed while it was made is dropped and the
original left in pickup; a linked file keeps its claim-time size in Claimed,
and the daemon puts it back, unattempted, if the size differs when it reads it.
Reads [relay] queue_dir, archive and [pickup] dir. Raises QueueSetupError
when the folders cannot be made or pickup and queue are on two filesystems.

A full disk loses nothing: a move that cannot be written (a reason file, a
folder entry) raises NoSpace before the message has moved, so its caller still
holds it, claimed, in active/. A deferral whose history cannot be saved still
goes to deferred/ (the previous history stays: at worst a recipient gets the
message twice), and a delivered message that cannot be archived is removed.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import json
import os
import pwd
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from spooler.names import (
    BULK,
    TRANSACTIONAL,
    id_time,
    is_message_name,
    is_queue_id,
    message_name,
    new_queue_id,
    printable,
    priority_of,
    queue_id_of,
)

PICKUP = "pickup"
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600   # the queue is the relay's user's alone
ACTIVE, DEFERRED, HOLD, BADMAIL, SENT = "active", "deferred", "hold", "badmail", "sent"
FOLDERS = (ACTIVE, DEFERRED, HOLD, BADMAIL, SENT)


NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class QueueSetupError(Exception):
    """The queue cannot work with these folders; the message says what to fix."""


class NoSpace(Exception):
    """The queue's filesystem is full: says what could not be written. The message has not
    moved: its claim still holds it in active/."""


@dataclass
class Attempt:
    at: float
    code: int | None        # SMTP reply code; None when no reply came (refused, timeout)
    reply: str
    recipients: list[str]
    charged: bool = True    # counts as a retry step (not when the host could not be reached)


@dataclass(frozen=True)
class Refusal:
    """A recipient the smart host refused for good (5xx), with its reply and when."""
    recipient: str
    reply: str
    at: float


@dataclass
class History:
    """What the queue remembers of a message between attempts (meta/ID.json)."""
    arrived: float                                     # when the relay first claimed it
    source: str = ""                                   # the pickup file name it came in as
    recipients_left: list[str] | None = None           # set once some recipients are done
    attempts: list[Attempt] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def charged_attempts(self) -> int:
        return sum(1 for a in self.attempts if a.charged)

    def to_json(self) -> str:
        return json.dumps({
            "arrived": self.arrived, "source": self.source,
            "recipients_left": self.recipients_left,
            "attempts": [a.__dict__ for a in self.attempts],
            "refused": [r.__dict__ for r in self.refused],
        })

    @classmethod
    def from_json(cls, text: str | bytes) -> History:
        data = json.loads(text)
        return cls(arrived=data["arrived"], source=data.get("source", ""),
                   recipients_left=data.get("recipients_left"),
                   attempts=[Attempt(**a) for a in data.get("attempts", [])],
                   refused=[Refusal(**r) for r in data.get("refused", [])])


@dataclass
class Claimed:
    """A message this relay holds in active/: its path and the locked descriptor."""
    queue_id: str
    priority: str
    path: Path
    fd: int
    source: str
    arrived: float
    size: int                        # bytes at claim: a different size later means a writer is still at it
    history: History | None = None   # None: never attempted (nothing in meta/ to read or drop)

    def read(self, limit: int) -> bytes:
        """The file's bytes, at most limit + 1 (so the caller can tell 'too big')."""
        os.lseek(self.fd, 0, os.SEEK_SET)
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(self.fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def size_now(self) -> int:
        return os.fstat(self.fd).st_size

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops the flock
            self.fd = -1


class AdminError(Exception):
    """An admin command cannot do what was asked; the message says why."""


class Unclaimable(Exception):
    """A file the relay will not read; it goes to badmail untouched, with this reason."""


class NotRegularFile(Unclaimable):
    """A symlink, fifo, device or folder where a message file was expected."""


class Unreadable(Unclaimable):
    """A file the relay's user may not read (its writer's umask or mode shut the relay out)."""


class HardLinked(Unclaimable):
    """A file with a second name: reading it could mail out a file its sender may not read."""


class Queue:
    def __init__(self, queue_dir: str | os.PathLike, pickup_dir: str | os.PathLike, *,
                 archive: bool = False):
        self.uid = os.geteuid()
        self.root = Path(queue_dir)
        self.pickup = Path(pickup_dir)
        self.archive = archive
        self.dirs = {name: self.root / name for name in FOLDERS}
        self.meta_dir = self.root / "meta"
        self._meta_path = str(self.meta_dir)

    # -- set-up ---------------------------------------------------------------------------

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

    # -- claims -----------------------------------------------------------------------------

    def claim_from_pickup(self, name: str) -> Claimed | None:
        """Take pickup/name into active/ (keeping the writer's id, see _id_for); None if
        another relay took it first.

        Raises Unclaimable for anything but a regular file with one name (nothing is
        followed or read), and OSError (EACCES) for a file the relay may not read.
        Another user's file that changes while it is copied is left in pickup (None).
        """
        source = self.pickup / name
        fd = _open_locked(source)
        if fd is None:
            return None
        try:
            st = os.fstat(fd)
            if st.st_nlink == 0:  # a relay that held the lock before us took it
                os.close(fd)
                return None
            if st.st_nlink > 1:
                if not self._in_active(st):
                    raise HardLinked(f"the file has {st.st_nlink} names (a hard link): not read, "
                                     "as it could be a file its sender may not read")
                # A relay died between link() and unlink() below: the queue has it already.
                source.unlink(missing_ok=True)
                os.close(fd)
                return None
            queue_id = self._id_for(name)
            priority = priority_of(name)
            target = self.dirs[ACTIVE] / message_name(queue_id, priority)
            if st.st_uid == self.uid:
                # link + unlink, not rename: watchdog holds back every rename *out of* a
                # watched folder for 0.5 s (to pair it with a rename in) and queues all later
                # events behind it, which would delay the next message by half a second. A
                # crash between the two leaves one inode under both names; see the check
                # above and drop_pickup_twins() at start.
                os.link(source, target)
                source.unlink(missing_ok=True)
                if st.st_mode & 0o077:
                    os.fchmod(fd, PRIVATE_FILE)
            else:
                copy = self._copy_in(fd, st, source, target)
                os.close(fd)
                if copy is None:
                    return None
                fd = copy
        except FileNotFoundError:  # taken by a relay that held the lock before us
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return Claimed(queue_id, priority, target, fd, name, time.time(), st.st_size)  # age counts from here

    def _id_for(self, name: str) -> str:
        """The id a writer gave the file (ID.eml: the site, `relay drop`, `relay sendmail`) when
        no queued message has it, so one id tells the story from drop to delivery; else a new one."""
        queue_id = queue_id_of(name)
        if (is_queue_id(queue_id) and name == message_name(queue_id, priority_of(name))
                and self.locate(queue_id) is None):
            return queue_id
        return new_queue_id()

    def _copy_in(self, fd: int, st: os.stat_result, source: Path, target: Path) -> int | None:
        """Copy another user's pickup file (st: as it was at claim) into a private, locked
        active/ file; unlink the original once the copy is synced. Returns the copy's
        descriptor, or None when the file changed while it was copied (its writer is still
        at it): the copy is removed and the original left in pickup for a later claim.

        Crash safety: the copy is written under a hidden name (never taken; removed at
        start) and synced before it gets its real name; the original goes last. A crash
        between those two steps leaves both (sent twice at most, never lost).
        """
        temp = target.with_name(f".{target.name}.tmp")
        out = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      PRIVATE_FILE)
        try:
            fcntl.flock(out, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new: nobody else can hold it
            copied = _copy_bytes(fd, out, st.st_size)
            after = os.fstat(fd)
            if copied != st.st_size or (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                os.close(out)
                _unlink_quietly(temp)
                return None
            os.fdatasync(out)
            os.rename(temp, target)
        except BaseException:
            os.close(out)
            _unlink_quietly(temp)
            raise
        if _same_file(fd, source):  # not replaced by a new file of the same name meanwhile
            source.unlink(missing_ok=True)
        return out

    def _in_active(self, st: os.stat_result) -> bool:
        for entry in os.scandir(self.dirs[ACTIVE]):
            try:
                other = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                return True
        return False

    def drop_pickup_twins(self) -> int:
        """Remove pickup names of messages already in active/ (a crash between link and unlink),
        and copies a crash left half-made in active/ (their originals are still in pickup)."""
        inodes = set()
        for entry in os.scandir(self.dirs[ACTIVE]):
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                _drop_unlocked(entry.path)
                continue
            st = entry.stat(follow_symlinks=False)
            if st.st_nlink > 1:
                inodes.add((st.st_dev, st.st_ino))
        dropped = 0
        if inodes:
            for entry in os.scandir(self.pickup):
                st = entry.stat(follow_symlinks=False)
                if (st.st_dev, st.st_ino) in inodes:
                    os.unlink(entry.path)
                    dropped += 1
        return dropped

    def claim_queued(self, folder: str, name: str) -> Claimed | None:
        """Take folder/name (deferred/ or a dead relay's active/) into active/ for an attempt."""
        source = self.dirs[folder] / name
        fd = _open_locked(source)
        if fd is None:
            return None
        try:
            if not _same_file(fd, source):  # moved on while we waited for the lock
                os.close(fd)
                return None
            if os.fstat(fd).st_nlink > 1:
                raise HardLinked("the file has a second name (a hard link): not read")
            target = self.dirs[ACTIVE] / name
            if folder != ACTIVE:
                os.rename(source, target)
        except BaseException:
            os.close(fd)
            raise
        queue_id = queue_id_of(name)
        history = self.history(queue_id)
        arrived = history.arrived if history else id_time(queue_id)
        return Claimed(queue_id, priority_of(name), target, fd, history.source if history else "",
                       arrived, os.fstat(fd).st_size, history)

    def badmail_unreadable(self, folder: str, name: str, why: str) -> str:
        """Move folder/name (a symlink, fifo, hard link, unreadable file) to badmail untouched,
        never following or reading it. Raises NoSpace, nothing moved, on a full disk."""
        source = self.pickup / name if folder == PICKUP else self.dirs[folder] / name
        queue_id = new_queue_id() if folder == PICKUP else queue_id_of(name)
        where = "pickup file" if folder == PICKUP else f"{folder} file"
        with _no_space(f"the reason file badmail/{queue_id}.bdr: {folder} file {name!r} left where it is"):
            self._write_reason(queue_id, f"reason: {why}\n{where}: {printable(name)}\n"
                                         f"moved at: {iso_time(time.time())}\n")
        reason = self.dirs[BADMAIL] / f"{queue_id}.bdr"
        try:
            with _no_space(f"moving {folder} file {name!r} to badmail/: left where it is"):
                os.rename(source, self.dirs[BADMAIL] / message_name(queue_id, priority_of(name)))
        except FileNotFoundError:
            reason.unlink(missing_ok=True)
        except NoSpace:
            reason.unlink(missing_ok=True)
            raise
        return queue_id

    # -- outcomes of an attempt -----------------------------------------------------------

    def delivered(self, claimed: Claimed) -> str:
        """Done with a delivered message. Returns what could not be kept ('' when all was)."""
        lost = ""
        if self.archive:
            try:
                os.rename(claimed.path, self.dirs[SENT] / claimed.path.name)
            except OSError as e:
                if e.errno not in NO_SPACE_ERRNOS:
                    raise
                # Delivered: better no archive copy than a second send.
                claimed.path.unlink()
                lost = f"no space left on device for its copy in {SENT}/: delivered, not archived"
        else:
            claimed.path.unlink()
        if claimed.history is not None:
            self._drop_history(claimed.queue_id)
        claimed.release()
        return lost

    def defer(self, claimed: Claimed, history: History, next_attempt: float) -> str:
        """Keep the message for another attempt at next_attempt (stored as the file's mtime).

        Returns what could not be kept ('' when all was): on a full disk the message is
        deferred all the same, with the history it had before this attempt.
        """
        lost = ""
        try:
            self.save_history(claimed.queue_id, history)
        except OSError as e:
            if e.errno not in NO_SPACE_ERRNOS:
                raise
            lost = (f"no space left on device for its history (meta/{claimed.queue_id}.json): "
                    f"moved to {DEFERRED}/ without this attempt recorded")
        os.utime(claimed.fd, (next_attempt, next_attempt))
        with _no_space(f"moving it to {DEFERRED}/"):
            os.rename(claimed.path, self.dirs[DEFERRED] / claimed.path.name)
        claimed.release()
        return lost

    def to_badmail(self, claimed: Claimed, reason: str, history: History) -> None:
        """Give up: the message untouched in badmail/ID.eml, the reason beside it in ID.bdr.

        The history stays in meta/ (who is still owed the message, every attempt), so
        `relay list` can show it and requeue-badmail sends only to those recipients.
        Raises NoSpace, the message still in active/ and no reason file left, on a full disk.
        """
        with _no_space(f"its reason file ({BADMAIL}/{claimed.queue_id}.bdr)"):
            self._write_reason(claimed.queue_id, reason)
        try:
            with _no_space(f"its history (meta/{claimed.queue_id}.json)"):
                self.save_history(claimed.queue_id, history)
            with _no_space(f"moving it to {BADMAIL}/"):
                os.rename(claimed.path, self.dirs[BADMAIL] / claimed.path.name)
        except NoSpace:
            (self.dirs[BADMAIL] / f"{claimed.queue_id}.bdr").unlink(missing_ok=True)
            raise
        claimed.release()

    def put_back(self, claimed: Claimed, due: float | None = None) -> None:
        """Return an unattempted message to deferred/, due at `due` (default: now)."""
        due = time.time() if due is None else due
        os.utime(claimed.fd, (due, due))
        os.rename(claimed.path, self.dirs[DEFERRED] / claimed.path.name)
        claimed.release()

    # -- admin moves (safe beside a running relay: lock, then rename) -----------------------

    def locate(self, queue_id: str) -> tuple[str, Path] | None:
        """(folder, path) of a queued message, or None."""
        if not is_queue_id(queue_id):
            return None
        for folder in (DEFERRED, HOLD, ACTIVE, BADMAIL, SENT):
            for name in (message_name(queue_id, TRANSACTIONAL), message_name(queue_id, BULK)):
                path = self.dirs[folder] / name
                if os.path.lexists(path):
                    return folder, path
        return None

    def admin_move(self, queue_id: str, allowed: tuple[str, ...], to: str, *,
                   due_now: bool = False) -> None:
        """Move a message between folders for an admin (due_now: its next attempt is now).

        Raises AdminError: unknown id, wrong folder, or busy (a live relay is sending it).
        """
        folder, path = self._locate_for_admin(queue_id, allowed)
        with _AdminLock(path, queue_id) as fd:
            if due_now:
                now = time.time()
                if fd is not None:
                    os.utime(fd, (now, now))
            if folder != to:
                os.rename(path, self.dirs[to] / path.name)

    def delete(self, queue_id: str, allowed: tuple[str, ...] = (DEFERRED, HOLD, BADMAIL, SENT)) -> None:
        """Remove a message, its history and its reason file."""
        _folder, path = self._locate_for_admin(queue_id, allowed)
        with _AdminLock(path, queue_id):
            path.unlink()
        self._drop_history(queue_id)
        (self.dirs[BADMAIL] / f"{queue_id}.bdr").unlink(missing_ok=True)

    def requeue_badmail(self, queue_id: str) -> str:
        """Give a badmail message another chance, under a new id (as `postsuper -r` does):
        deferred/, due now, a fresh lifetime, only the recipients still owed it."""
        _folder, path = self._locate_for_admin(queue_id, (BADMAIL,))
        old = self.history(queue_id)
        new_id = new_queue_id()
        with _AdminLock(path, queue_id) as fd:
            if fd is not None:
                now = time.time()
                os.utime(fd, (now, now))
            try:
                self.save_history(new_id, History(
                    arrived=time.time(), source=f"badmail/{path.name}",
                    recipients_left=old.recipients_left if old else None))
                os.rename(path, self.dirs[DEFERRED] / message_name(new_id, priority_of(path.name)))
            except OSError as e:
                self._drop_history(new_id)
                raise AdminError(f"{queue_id}: left in badmail/: {e.strerror}") from None
        self._drop_history(queue_id)
        (self.dirs[BADMAIL] / f"{queue_id}.bdr").unlink(missing_ok=True)
        return new_id

    def _locate_for_admin(self, queue_id: str, allowed: tuple[str, ...]) -> tuple[str, Path]:
        found = self.locate(queue_id)
        if found is None:
            raise AdminError(f"{queue_id}: no such message in the queue")
        folder, path = found
        if folder not in allowed:
            raise AdminError(f"{queue_id}: is in {folder}/, not in {' or '.join(allowed)}/")
        return folder, path

    def expire_badmail(self, max_age: float, now: float) -> int:
        """Remove badmail older than max_age (by when it arrived there) and its reason file."""
        removed = 0
        for entry in os.scandir(self.dirs[BADMAIL]):
            if not entry.name.endswith(".bdr"):
                continue
            try:
                if now - entry.stat().st_mtime <= max_age:
                    continue
            except FileNotFoundError:
                continue
            queue_id = entry.name[: -len(".bdr")]
            for name in (message_name(queue_id, TRANSACTIONAL), message_name(queue_id, BULK)):
                path = self.dirs[BADMAIL] / name
                if os.path.lexists(path):
                    path.unlink()
                    removed += 1
            os.unlink(entry.path)
            self._drop_history(queue_id)
        return removed

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
            return (self.dirs[BADMAIL] / f"{queue_id}.bdr").read_text(errors="replace")
        except FileNotFoundError:
            return None

    # -- listings ---------------------------------------------------------------------------

    def pickup_names(self) -> list[str]:
        """Message names in pickup, transactional before bulk, oldest name first."""
        try:
            names = [e.name for e in os.scandir(self.pickup) if is_message_name(e.name)]
        except FileNotFoundError:
            return []
        return sorted(names, key=lambda n: (priority_of(n) != TRANSACTIONAL, n))

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

    def history(self, queue_id: str) -> History | None:
        # Plain os calls: `relay list` reads one of these per queued message.
        try:
            fd = os.open(os.path.join(self._meta_path, queue_id + ".json"), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            return History.from_json(os.read(fd, 1 << 20))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged history must not stop delivery; attempts restart at 0
        finally:
            os.close(fd)

    def save_history(self, queue_id: str, history: History) -> None:
        _write_private(self.meta_dir / f"{queue_id}.json", history.to_json())

    def _drop_history(self, queue_id: str) -> None:
        (self.meta_dir / f"{queue_id}.json").unlink(missing_ok=True)

    def _write_reason(self, queue_id: str, reason: str) -> None:
        _write_private(self.dirs[BADMAIL] / f"{queue_id}.bdr", reason)

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


def _write_private(path: Path, text: str) -> None:
    """Write a small queue file (history, reason) readable by the relay's user alone, atomically;
    on failure (a full disk) nothing is left behind and the old file, if any, stays."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 PRIVATE_FILE)
    try:
        try:
            view = memoryview(text.encode())
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(temp, path)
    except BaseException:
        _unlink_quietly(temp)
        raise


@contextmanager
def _no_space(what: str) -> Iterator[None]:
    """Turn a full disk's OSError into NoSpace naming what could not be written."""
    try:
        yield
    except OSError as e:
        if e.errno not in NO_SPACE_ERRNOS:
            raise
        raise NoSpace(f"no space left on device for {what}") from None


def _copy_bytes(source: int, target: int, size: int) -> int:
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


def _drop_unlocked(path: str) -> None:
    """Remove a leftover file unless a live relay holds it (then it is still in the making)."""
    try:
        fd = _open_locked(Path(path))
    except (NotRegularFile, OSError):
        return
    if fd is not None:
        _unlink_quietly(path)
        os.close(fd)


def _unlink_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _open_locked(path: Path) -> int | None:
    """Open a regular file without following links and lock it; None if gone or busy."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotRegularFile("a symbolic link: not followed, its target left untouched") from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise Unreadable(_unreadable_reason(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"not a regular file ({file_kind(mode)}): not read")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None  # another live relay holds it
    except BaseException:
        os.close(fd)
        raise
    return fd


class _AdminLock:
    """Hold a queue file's lock for an admin move; a file a live relay holds is busy."""

    def __init__(self, path: Path, queue_id: str):
        self.path, self.queue_id, self.fd = path, queue_id, None

    def __enter__(self) -> int | None:
        try:
            self.fd = _open_locked(self.path)
        except Unclaimable:
            return None  # a symlink or fifo kept in badmail: no relay will ever hold it
        if self.fd is None:
            if os.path.lexists(self.path):
                raise AdminError(f"{self.queue_id}: busy: a running relay is delivering it now")
            raise AdminError(f"{self.queue_id}: moved on while we looked; try again")
        if not _same_file(self.fd, self.path):
            os.close(self.fd)
            raise AdminError(f"{self.queue_id}: moved on while we looked; try again")
        return self.fd

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _unreadable_reason(path: Path) -> str:
    try:
        st = os.stat(path, follow_symlinks=False)
        whose = f"owner {_user_name(st.st_uid)}, group {_group_name(st.st_gid)}, " \
                f"mode {stat.S_IMODE(st.st_mode):04o}"
    except OSError:
        whose = "its owner and mode unknown"
    return (f"not readable by the relay's user ({whose}): writers must leave pickup files "
            "readable by the relay's group (see the README's production layout)")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _same_file(fd: int, path: Path) -> bool:
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


def iso_time(ts: float) -> str:
    """A local timestamp as people read it in reason files and logs."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(ts))
