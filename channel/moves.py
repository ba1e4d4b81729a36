"""Move requests and their results: how the site asks the relay to retry, hold, release, delete or
requeue messages, as Postfix's `postqueue` asks its daemon instead of touching the queue itself.

The site cannot read the queue (it is the relay's alone, 0700). submit() writes one
small JSON file, {"move", "ids", "admin", "at"}, whole (channel.files, synced) to
<admin_dir>/requests/REQUEST_ID.json: a folder the admin group may add to but not
list (FOLDER_MODES; contrib/install-layout.sh makes the same). The relay
(relay.admin.move_requests) reads each with parse_request(), which refuses with
RequestRefused anything that is not exactly that shape (a big file, an unknown key or
move, an id that is not a queue id), carries it out and writes the answer with
write_result() to <admin_dir>/results/REQUEST_ID.json (0640: the site reads it by name
through the group), which read_result() gives back typed. The site checks its own
request with parse_request() before writing it, so it never asks what the relay refuses.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from channel.files import replace_file
from channel.jsondoc import parse_json
from channel.status import BADMAIL, DEFERRED, HOLD
from spooler.envelope import single_line
from spooler.names import is_queue_id, printable

REQUESTS, RESULTS = "requests", "results"
MAX_REQUEST_BYTES = 64 * 1024
MAX_IDS = 1000
MAX_ADMIN = 400           # who asked: the forms' longest name (80) and address (254) fit whole
SHARED_MODE = 0o640       # the request and result files: the other side reads them through the group
# admin_dir and results/: the admin group (the site's user and the relay's) passes through and
# lists nothing; requests/: it may add files. setgid: every file gets that group; sticky: no
# writer removes or replaces another's.
FOLDER_MODES = {"": 0o2710, REQUESTS: 0o3730, RESULTS: 0o2710}
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
_KEYS = {"move", "ids", "admin", "at"}


class MoveName(StrEnum):
    """The moves an admin may ask for; relay.admin.moves.MOVES carries each out."""
    RETRY = "retry"
    HOLD = "hold"
    RELEASE = "release"
    DELETE = "delete"
    REQUEUE_BADMAIL = "requeue-badmail"

    @property
    def done(self) -> str:
        """What a moved message is, for logs and answers ("held")."""
        return _DONE[self]

    @property
    def folder(self) -> str:
        """Where "all of them" are looked for: the folder whose list offers this move."""
        return _FOLDER[self]


_DONE = {MoveName.RETRY: "due now", MoveName.HOLD: "held", MoveName.RELEASE: "released",
         MoveName.DELETE: "deleted", MoveName.REQUEUE_BADMAIL: "requeued"}
_FOLDER = {MoveName.RETRY: DEFERRED, MoveName.HOLD: DEFERRED, MoveName.RELEASE: HOLD,
           MoveName.DELETE: DEFERRED, MoveName.REQUEUE_BADMAIL: BADMAIL}


MOVE_NAMES = frozenset(m.value for m in MoveName)


class RequestRefused(Exception):
    """A request the relay will not carry out; the message says why."""


@dataclass(frozen=True)
class MoveRequest:
    id: str
    move: MoveName
    ids: tuple[str, ...]
    admin: str            # who asked, as the site names them
    at: float


def admin_name(name: str, address: str) -> str:
    """Who asks, as a request names them: "Name <address>", on one line (each line break a
    space), at most MAX_ADMIN characters: a longer name is cut short with "…", the address
    only when it alone does not fit."""
    name, address = single_line(name), single_line(address)
    if len(name) + len(address) + 3 > MAX_ADMIN:
        room = MAX_ADMIN - len(address) - 3
        name = _cut(name, room if room >= 2 else 80)
        address = _cut(address, MAX_ADMIN - len(name) - 3)
    return f"{name} <{address}>" if name else f"<{_cut(address, MAX_ADMIN - 2)}>"


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def is_request_id(text: str) -> bool:
    return bool(_REQUEST_ID.fullmatch(text))


def request_id_of(name: str) -> str | None:
    """The request id a file name in requests/ carries (REQUEST_ID.json), or None."""
    stem = name.removesuffix(".json")
    return stem if stem != name and is_request_id(stem) else None


def parse_request(request_id: str, data: bytes) -> MoveRequest:
    """A request as the relay accepts it, or RequestRefused saying what is wrong."""
    if len(data) > MAX_REQUEST_BYTES:
        raise RequestRefused(f"over {MAX_REQUEST_BYTES} bytes")
    try:
        doc = parse_json(data.decode("utf-8"))
    except ValueError as e:   # UnicodeDecodeError is one
        raise RequestRefused(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RequestRefused("not a JSON object")
    if set(doc) != _KEYS:
        unknown, missing = sorted(set(doc) - _KEYS), sorted(_KEYS - set(doc))
        raise RequestRefused("; ".join(filter(None, [
            unknown and f"unknown key(s): {', '.join(map(repr, unknown))}",
            missing and f"missing key(s): {', '.join(missing)}"])))
    move, ids, admin, at = doc["move"], doc["ids"], doc["admin"], doc["at"]
    if not isinstance(move, str) or move not in MOVE_NAMES:
        raise RequestRefused(f"move {printable(str(move))!r} is not one of {', '.join(MoveName)}")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IDS:
        raise RequestRefused(f"ids must be a list of 1 to {MAX_IDS} queue ids")
    bad = [i for i in ids if not isinstance(i, str) or not is_queue_id(i)]
    if bad:
        raise RequestRefused(f"not a queue id: {printable(str(bad[0]))[:60]!r}")
    if not isinstance(admin, str) or not 0 < len(admin) <= MAX_ADMIN:
        raise RequestRefused(f"admin must name who asked (1 to {MAX_ADMIN} characters)")
    if type(at) not in (int, float):
        raise RequestRefused("at must be a time (seconds since the epoch)")
    return MoveRequest(request_id, MoveName(move), tuple(dict.fromkeys(ids)), admin, float(at))


def submit(admin_dir: Path, move: str, ids: list[str], admin: str, now: float | None = None) -> str:
    """Write a request for the relay; returns its id. Raises RequestRefused for a request the
    relay would refuse, OSError when requests/ cannot be written (no relay made it yet)."""
    request_id = secrets.token_hex(16)
    data = json.dumps({"move": move, "ids": list(ids), "admin": admin,
                       "at": time.time() if now is None else now}).encode()
    parse_request(request_id, data)   # the relay's own check, before anything is written
    # Synced: the admin was told it is asked; a crash must not lose it half written.
    replace_file(Path(admin_dir) / REQUESTS / f"{request_id}.json", data, SHARED_MODE, fsync=True)
    return request_id


@dataclass(frozen=True)
class MoveResult:
    """What one id became."""
    id: str
    ok: bool
    new_id: str | None = None   # requeue-badmail gives the message a new id
    error: str = ""             # why not, when not ok


@dataclass(frozen=True)
class RequestResult:
    """The relay's answer: what each id became, or why the whole request was refused."""
    request: str
    at: float
    refused: str | None = None          # the request was not carried out, and why
    move: MoveName | None = None        # these three: only for a request carried out
    admin: str | None = None
    results: tuple[MoveResult, ...] = ()

    @property
    def done(self) -> str:
        return self.move.done if self.move is not None else ""

    def to_json(self) -> dict:
        if self.refused is not None:
            return {"request": self.request, "refused": self.refused, "at": self.at, "results": []}
        return {"request": self.request, "move": str(self.move), "done": self.done,
                "admin": self.admin, "at": self.at, "refused": None,
                "results": [dict(r.__dict__) for r in self.results]}

    @classmethod
    def from_json(cls, doc: dict) -> RequestResult:
        """Raises KeyError, TypeError or ValueError for a document not of this shape."""
        results = tuple(MoveResult(str(r["id"]), bool(r["ok"]), r.get("new_id"), str(r.get("error", "")))
                        for r in doc["results"])
        if doc["refused"] is not None:
            return cls(str(doc["request"]), float(doc["at"]), str(doc["refused"]))
        return cls(str(doc["request"]), float(doc["at"]), None, MoveName(doc["move"]),
                   str(doc["admin"]), results)


def write_result(admin_dir: Path, result: RequestResult) -> None:
    """Write the answer to a request whole (not synced: the log has it too); raises OSError."""
    replace_file(Path(admin_dir) / RESULTS / f"{result.request}.json",
                 json.dumps(result.to_json()).encode(), SHARED_MODE)


def read_result(admin_dir: Path, request_id: str) -> RequestResult | None:
    """The relay's answer to a request (None: not carried out yet, or no such request)."""
    if not is_request_id(request_id):
        return None
    try:
        doc = parse_json((Path(admin_dir) / RESULTS / f"{request_id}.json").read_bytes())
        return RequestResult.from_json(doc)
    except (OSError, KeyError, TypeError, ValueError, AttributeError):
        return None
