"""Claims: taking a message into active/ for an attempt, so that no two relays ever send it twice.

Protocol (several relays may share these folders): open the file without following
links, flock(LOCK_EX|LOCK_NB) it, then move it out of the shared folder. The lock
follows the inode; a relay holds it (in Claimed) until the message has left active/,
and the kernel drops it if the relay dies. So a live relay's message is never taken
twice, and a dead relay's active/ files are free to recover.

Ownership: a pickup file the relay's user owns is hard-linked into active/ (no copy);
one written by another user (the site as www-data) cannot be linked under
fs.protected_hardlinks, nor re-dated or made private by a non-owner, so it is copied
into a private file, synced, and only then unlinked from pickup. Files with a second
name (a hard link planted in pickup) are never read. A writer may still be at a file
the watcher thought complete (a `cp` that paused): a copy whose source changed while
it was made is dropped and the original left in pickup; a linked file keeps its
claim-time size in Claimed, and the attempt gives it back, untried, if the size
differs when it reads it. Raises Unclaimable (relay.queue.files) for what it will not
read; the dispatcher sends those to badmail (relay.queue.badmail).
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from relay.queue.files import (
    PRIVATE_FILE,
    HardLinked,
    copy_bytes,
    drop_unlocked,
    lock_regular_file,
    open_locked,
    same_file,
)
from relay.queue.folders import ACTIVE, Queue
from relay.queue.history import History
from relay.queue.queued_ids import QueuedIds
from spooler.names import id_time, is_queue_id, message_name, new_queue_id, priority_of, queue_id_of
from spooler.pickup import unlink_quietly


@dataclass
class Claimed:
    """A message this relay holds in active/: its path and the locked descriptor."""
    queue_id: str
    priority: str
    path: str                        # in active/
    fd: int
    source: str
    arrived: float
    size: int                        # bytes at claim: a different size later means a writer is still at it
    history: History | None = None   # None: never attempted (nothing in meta/ to read or drop)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def read(self, limit: int) -> bytes:
        """The file's bytes, at most limit + 1 (so the caller can tell 'too big')."""
        # One pread of the claimed size + 1 is the whole file when it came back short (a
        # regular file reads whole up to its end); only a file that grew reads on.
        want = min(limit + 1, self.size + 1)
        first = os.pread(self.fd, want, 0)
        chunks, left = [first], limit + 1 - len(first)
        while len(chunks[-1]) == want and left > 0:
            want = min(left, 1 << 20)
            chunks.append(os.pread(self.fd, want, limit + 1 - left))
            left -= len(chunks[-1])
        return b"".join(chunks)

    def size_now(self) -> int:
        return os.fstat(self.fd).st_size

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops the flock
            self.fd = -1


def claim_from_pickup(queue: Queue, name: str, queued: QueuedIds | None = None) -> Claimed | None:
    """Take pickup/name into active/ (keeping the writer's id, see _id_for); None if
    another relay took it first. `queued`: the ids already queued, as the dispatcher last
    listed them (None: the folders are asked).

    Raises Unclaimable for anything but a regular file with one name (nothing is
    followed or read), and OSError (EACCES) for a file the relay may not read.
    Another user's file that changes while it is copied is left in pickup (None).
    """
    source = f"{queue.pickup_str}/{name}"
    locked = lock_regular_file(source)
    if locked is None:
        return None
    fd, st = locked
    try:
        if st.st_nlink == 0:  # a relay that held the lock before us took it
            os.close(fd)
            return None
        if st.st_nlink > 1:
            if not _in_active(queue, st):
                raise HardLinked(f"the file has {st.st_nlink} names (a hard link): not read, "
                                 "as it could be a file its sender may not read")
            # A relay died between link() and unlink() below: the queue has it already.
            _unlink_if_there(source)
            os.close(fd)
            return None
        queue_id = _id_for(queue, name, queued)
        priority = priority_of(name)
        target = queue.file(ACTIVE, message_name(queue_id, priority))
        if st.st_uid == queue.uid:
            # link + unlink, not rename: link() never replaces a file already in active/
            # (rename would, silently), and a watchdog asked for renames out of pickup
            # would hold each back 0.5 s to pair it (relay.daemon.watch asks for none). A
            # crash between the two leaves one inode under both names; see the check
            # above and drop_pickup_twins() at start.
            os.link(source, target)
            _unlink_if_there(source)
            if st.st_mode & 0o077:
                os.fchmod(fd, PRIVATE_FILE)
        else:
            copy = _copy_in(fd, st, Path(source), Path(target))
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


def _unlink_if_there(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _id_for(queue: Queue, name: str, queued: QueuedIds | None) -> str:
    """The id a writer gave the file (ID.eml: the site, `relay drop`, `relay sendmail`) when
    no queued message has it, so one id tells the story from drop to delivery; else a new one."""
    queue_id = queue_id_of(name)
    if is_queue_id(queue_id) and name == message_name(queue_id, priority_of(name)):
        taken = queued.holds(queue_id) if queued is not None else queue.locate(queue_id) is not None
        if not taken:
            return queue_id
    return new_queue_id()


def _copy_in(fd: int, st: os.stat_result, source: Path, target: Path) -> int | None:
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
        copied = copy_bytes(fd, out, st.st_size)
        after = os.fstat(fd)
        if copied != st.st_size or (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            os.close(out)
            unlink_quietly(temp)
            return None
        os.fdatasync(out)
        os.rename(temp, target)
    except BaseException:
        os.close(out)
        unlink_quietly(temp)
        raise
    if same_file(fd, source):  # not replaced by a new file of the same name meanwhile
        source.unlink(missing_ok=True)
    return out


def _in_active(queue: Queue, st: os.stat_result) -> bool:
    for entry in os.scandir(queue.dirs[ACTIVE]):
        try:
            other = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return True
    return False


def drop_pickup_twins(queue: Queue) -> int:
    """Remove pickup names of messages already in active/ (a crash between link and unlink),
    and copies a crash left half-made in active/ (their originals are still in pickup)."""
    inodes = set()
    for entry in os.scandir(queue.dirs[ACTIVE]):
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            drop_unlocked(entry.path)
            continue
        st = entry.stat(follow_symlinks=False)
        if st.st_nlink > 1:
            inodes.add((st.st_dev, st.st_ino))
    dropped = 0
    if inodes:
        for entry in os.scandir(queue.pickup):
            st = entry.stat(follow_symlinks=False)
            if (st.st_dev, st.st_ino) in inodes:
                os.unlink(entry.path)
                dropped += 1
    return dropped


def claim_queued(queue: Queue, folder: str, name: str) -> Claimed | None:
    """Take folder/name (deferred/ or a dead relay's active/) into active/ for an attempt."""
    source = queue.file(folder, name)
    fd = open_locked(source)
    if fd is None:
        return None
    try:
        if not same_file(fd, source):  # moved on while we waited for the lock
            os.close(fd)
            return None
        if os.fstat(fd).st_nlink > 1:
            raise HardLinked("the file has a second name (a hard link): not read")
        target = queue.file(ACTIVE, name)
        if folder != ACTIVE:
            os.rename(source, target)
    except BaseException:
        os.close(fd)
        raise
    queue_id = queue_id_of(name)
    history = queue.history(queue_id)
    arrived = history.arrived if history else id_time(queue_id)
    return Claimed(queue_id, priority_of(name), target, fd, history.source if history else "",
                   arrived, os.fstat(fd).st_size, history)
