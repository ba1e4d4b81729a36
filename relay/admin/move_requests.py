"""Move requests: how the site asks the relay to retry, hold, release, delete or requeue messages,
as Postfix's `postqueue` asks its daemon instead of touching the queue itself.

The site cannot read the queue (it is the relay's alone, 0700). It writes one small JSON
file, {"move", "ids", "admin", "at"}, to <admin_dir>/requests/ (writable by the admin
group, setgid, sticky, not listable: like pickup, but not for every writer of pickup)
under a hidden name, then renames it to REQUEST_ID.json.
The relay's control thread (relay.daemon.control) takes each one under an flock (one relay
process carries it out, however many share the queue), refuses anything that is not
exactly that shape (a link, a fifo, a big file, an unknown key or move, an id that is
not a queue id), runs relay.admin.moves.apply_move (MOVES, nothing else), logs every id's
result with the admin's name, writes <admin_dir>/results/REQUEST_ID.json (0640: the
site reads it through the relay's group) and removes the request. Results are kept an
hour. Both sides use this module: the format has one home. Who may ask is who may
write to requests/: the README's production layout gives that to the admin group alone.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from relay.admin.moves import MOVES, apply_move
from relay.queue.files import printable
from relay.queue.folders import Queue
from spooler.names import is_queue_id

log = logging.getLogger("relay")

REQUESTS, RESULTS = "requests", "results"
MAX_REQUEST_BYTES = 64 * 1024
MAX_IDS = 1000
MAX_ADMIN = 200
KEEP_RESULTS = 3600.0     # results (and writers' forgotten temporary files) are removed after this
SHARED_MODE = 0o640       # the request and result files: the other side reads them through the group
# admin_dir and results/: the admin group (the site's user and the relay's) passes through and
# lists nothing; requests/: it may add files. setgid: every file gets that group; sticky: no
# writer removes or replaces another's. contrib/install-layout.sh makes the same.
FOLDER_MODES = {"": 0o2710, REQUESTS: 0o3730, RESULTS: 0o2710}
_REQUEST_NAME = re.compile(r"([0-9a-f]{32})\.json")
_KEYS = {"move", "ids", "admin", "at"}


class RequestRefused(Exception):
    """A request the relay will not carry out; the message says why."""


@dataclass(frozen=True)
class MoveRequest:
    id: str
    move: str
    ids: tuple[str, ...]
    admin: str
    at: float

    def to_json(self) -> dict:
        return {"move": self.move, "ids": list(self.ids), "admin": self.admin, "at": self.at}


def parse_request(request_id: str, data: bytes) -> MoveRequest:
    """A request as the relay accepts it, or RequestRefused saying what is wrong."""
    if len(data) > MAX_REQUEST_BYTES:
        raise RequestRefused(f"over {MAX_REQUEST_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise RequestRefused(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RequestRefused("not a JSON object")
    if set(doc) != _KEYS:
        unknown, missing = sorted(set(doc) - _KEYS), sorted(_KEYS - set(doc))
        raise RequestRefused("; ".join(filter(None, [
            unknown and f"unknown key(s): {', '.join(map(repr, unknown))}",
            missing and f"missing key(s): {', '.join(missing)}"])))
    move, ids, admin, at = doc["move"], doc["ids"], doc["admin"], doc["at"]
    if move not in MOVES:
        raise RequestRefused(f"move {printable(str(move))!r} is not one of {', '.join(MOVES)}")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IDS:
        raise RequestRefused(f"ids must be a list of 1 to {MAX_IDS} queue ids")
    bad = [i for i in ids if not isinstance(i, str) or not is_queue_id(i)]
    if bad:
        raise RequestRefused(f"not a queue id: {printable(str(bad[0]))[:60]!r}")
    if not isinstance(admin, str) or not 0 < len(admin) <= MAX_ADMIN:
        raise RequestRefused(f"admin must name who asked (1 to {MAX_ADMIN} characters)")
    if type(at) not in (int, float):
        raise RequestRefused("at must be a time (seconds since the epoch)")
    return MoveRequest(request_id, move, tuple(dict.fromkeys(ids)), admin, float(at))


# -- the site's side --------------------------------------------------------------------------

def submit(admin_dir: Path, move: str, ids: list[str], admin: str, now: float | None = None) -> str:
    """Write a request for the relay; returns its id. Raises RequestRefused for a request the
    relay would refuse, OSError when requests/ cannot be written (no relay made it yet)."""
    request_id = secrets.token_hex(16)
    request = MoveRequest(request_id, move, tuple(ids), admin, time.time() if now is None else now)
    data = json.dumps(request.to_json()).encode()
    parse_request(request_id, data)   # the relay's own check, before anything is written
    folder = Path(admin_dir) / REQUESTS
    temp = folder / f".{request_id}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, SHARED_MODE)
    try:
        os.fchmod(fd, SHARED_MODE)   # whatever the site's umask: the relay reads it by the group
        if os.write(fd, data) != len(data):
            raise OSError(errno.ENOSPC, "short write (a full disk?)", str(temp))
        os.fsync(fd)
        os.rename(temp, folder / f"{request_id}.json")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    return request_id


def read_result(admin_dir: Path, request_id: str) -> dict | None:
    """The relay's answer to a request (None: not carried out yet, or no such request)."""
    if not re.fullmatch(r"[0-9a-f]{32}", request_id):
        return None
    try:
        return json.loads((Path(admin_dir) / RESULTS / f"{request_id}.json").read_text())
    except (OSError, ValueError):
        return None


# -- the relay's side -------------------------------------------------------------------------

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
        self.folder = Path(admin_dir) / REQUESTS
        self.results = Path(admin_dir) / RESULTS
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
            request = self._take(name, now)
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
        found = _REQUEST_NAME.fullmatch(name)
        if not found:
            self._refuse(path, name, None, "not a request's name (32 hex digits, then .json)")
            return None
        request_id = found.group(1)
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
                if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                    raise RequestRefused("not a regular file with one name")
                request = parse_request(request_id, os.read(fd, MAX_REQUEST_BYTES + 1))
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
        done = MOVES[request.move].done
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
        self._write_result(request.id, {
            "request": request.id, "move": request.move, "done": done, "admin": request.admin,
            "at": now, "refused": None,
            "results": [{"id": r.id, "ok": r.ok, "new_id": r.new_id, "error": r.error}
                        for r in results]})

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
            self._write_result(request_id, {"request": request_id, "refused": why,
                                            "at": time.time(), "results": []})

    def _write_result(self, request_id: str, result: dict) -> None:
        data = json.dumps(result).encode()
        temp = self.results / f".{request_id}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, SHARED_MODE)
            try:
                os.fchmod(fd, SHARED_MODE)   # the relay runs with umask 0077
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, "short write (a full disk?)")
            finally:
                os.close(fd)
            os.rename(temp, self.results / f"{request_id}.json")
        except OSError as e:
            temp.unlink(missing_ok=True)
            log.error("dashboard request %s: cannot write its result (%s): the log has it",
                      request_id, e.strerror or e)

    def _drop_if_forgotten(self, name: str, now: float) -> None:
        """A writer's temporary file left behind (the site died between write and rename)."""
        path = self.folder / name
        try:
            if os.stat(path, follow_symlinks=False).st_mtime < now - KEEP_RESULTS:
                path.unlink()
        except OSError:
            pass
