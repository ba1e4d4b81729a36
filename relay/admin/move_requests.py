"""The relay's side of move requests: carry out what the site asked for in <admin_dir>/requests/.

The format of a request and of its result, the folders and their modes are
channel.moves's, which the site writes with. RequestCarrier (a pass per call of the
control thread, relay.daemon.control) takes each request under an flock (one relay
process carries it out, however many share the queue), refuses a link, a fifo, a
folder, a file with a second name, anything channel.moves.parse_request refuses and
any file whose reading raises (each file is handled on its own: one bad request never
holds up those after it), runs relay.admin.moves.apply_move (MOVES, nothing else), logs every id's result with
the admin's name, writes the result (channel.moves.write_result) and removes the
request. Results, and writers' forgotten temporary files, are removed after
KEEP_RESULTS. make_folders() makes the folders when a relay finds them missing. Who
may ask is who may write to requests/: the production layout gives that to the admin
group alone. A result that cannot be written is logged: the log has the answer.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import time
from pathlib import Path

from channel.moves import (
    FOLDER_MODES,
    MAX_REQUEST_BYTES,
    REQUESTS,
    RESULTS,
    MoveRequest,
    RequestRefused,
    RequestResult,
    parse_request,
    request_id_of,
    write_result,
)
from relay.admin.moves import apply_move
from relay.queue.folders import Queue
from spooler.names import printable

log = logging.getLogger("relay")

KEEP_RESULTS = 3600.0     # results (and writers' forgotten temporary files) are removed after this


def make_folders(admin_dir: Path) -> None:
    """Make admin_dir, requests/ and results/ with FOLDER_MODES when missing (modes of
    existing folders are the sysadmin's: contrib/install-layout.sh sets the same)."""
    for sub, mode in FOLDER_MODES.items():
        path = Path(admin_dir) / sub
        try:
            path.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            continue
        os.chmod(path, mode)   # mkdir's mode passes through the umask, and drops setgid/sticky


class RequestCarrier:
    """Carries out the requests waiting in requests/; one pass per call."""

    def __init__(self, admin_dir: Path, queue: Queue):
        self.admin_dir = Path(admin_dir)
        self.folder = self.admin_dir / REQUESTS
        self.results = self.admin_dir / RESULTS
        self.queue = queue
        self._unremovable: set[str] = set()   # refused and said once; not said again each pass

    def carry_out_pending(self, now: float) -> list[MoveRequest]:
        """Carry out every waiting request; returns those carried out (not the refused)."""
        done = []
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return done
        for name in names:
            if name.startswith("."):
                self._drop_if_forgotten(name, now)
                continue
            try:
                request = self._take(name, now)
            except Exception as e:   # one request's trouble is its own: the others go on
                self._refuse(self.folder / name, name, request_id_of(name),
                             f"the relay failed on it: {_error(e)}")
                continue
            if request is not None:
                done.append(request)
        return done

    def sweep_results(self, now: float) -> None:
        try:
            entries = list(os.scandir(self.results))
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_mtime < now - KEEP_RESULTS:
                    os.unlink(entry.path)
            except OSError:
                continue

    def _take(self, name: str, now: float) -> MoveRequest | None:
        path = self.folder / name
        request_id = request_id_of(name)
        if request_id is None:
            self._refuse(path, name, None, "not a request's name (32 hex digits, then .json)")
            return None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as e:   # a symlink (ELOOP), a file the relay may not read (EACCES)
            self._refuse(path, name, request_id, f"cannot be opened: {e.strerror or e}")
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None   # another relay process is carrying it out
            st = os.fstat(fd)
            try:
                if (os.stat(path, follow_symlinks=False).st_ino) != st.st_ino:
                    return None
            except FileNotFoundError:
                return None   # done by another relay process while we waited
            try:
                request = _read(fd, st, request_id)
            except RequestRefused as e:
                self._refuse(path, name, request_id, str(e))
                return None
            self._carry_out(request, now)
            path.unlink(missing_ok=True)
            return request
        finally:
            os.close(fd)

    def _carry_out(self, request: MoveRequest, now: float) -> None:
        admin = printable(request.admin)
        done = request.move.done
        log.info("dashboard request %s: %s %d message(s), asked by admin %s", request.id,
                 request.move, len(request.ids), admin)
        results = apply_move(self.queue, request.move, request.ids)
        for r in results:
            if r.ok:
                log.info("%s: %s by admin %s (dashboard request %s)%s", r.id, done, admin,
                         request.id, f", new id {r.new_id}" if r.new_id else "")
            else:
                log.warning("%s: not %s for admin %s (dashboard request %s): %s", r.id, done,
                            admin, request.id, r.error)
        self._write_result(RequestResult(
            request.id, now, None, request.move, request.admin,
            tuple(results)))

    def _refuse(self, path: Path, name: str, request_id: str | None, why: str) -> None:
        try:
            if path.is_dir() and not path.is_symlink():
                os.rmdir(path)
            else:
                path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            if name in self._unremovable:
                return
            self._unremovable.add(name)
            why += f"; and it cannot be removed ({e.strerror or e})"
        log.warning("dashboard request %s refused: %s", printable(name), why)
        if request_id is not None:
            self._write_result(RequestResult(request_id, time.time(), refused=why))

    def _write_result(self, result: RequestResult) -> None:
        try:
            write_result(self.admin_dir, result)
        except OSError as e:
            log.error("dashboard request %s: cannot write its result (%s): the log has it",
                      result.request, e.strerror or e)

    def _drop_if_forgotten(self, name: str, now: float) -> None:
        """A writer's temporary file left behind (the site died between write and rename)."""
        path = self.folder / name
        try:
            if os.stat(path, follow_symlinks=False).st_mtime < now - KEEP_RESULTS:
                path.unlink()
        except OSError:
            pass


def _read(fd: int, st: os.stat_result, request_id: str) -> MoveRequest:
    """The request in the open file, or RequestRefused saying why: whatever goes wrong while
    one file is read refuses that file alone (the parser's RecursionError on a deep nest too)."""
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        raise RequestRefused("not a regular file with one name")
    try:
        return parse_request(request_id, os.read(fd, MAX_REQUEST_BYTES + 1))
    except RequestRefused:
        raise
    except Exception as e:
        raise RequestRefused(f"cannot be read: {_error(e)}") from None


def _error(e: Exception) -> str:
    """An unexpected exception in one line of the log: its type and its words."""
    return printable(f"{type(e).__name__}: {getattr(e, 'strerror', None) or e}")
