"""The queue's status for the site's dashboard: <admin_dir>/status.json, published by the relay.

What is in it: relay.admin's status report (folder counts, oldest ages, the running
relays, the problems a human must see) with the smart host as the relays last saw it
(no probe: a running relay knows), the delivery rate and last error from
relay.daemon.activity, and the rows of the ROWS_PER_FOLDER newest messages in deferred/,
hold/ and badmail/ (envelope, attempts with their last HISTORY_SHOWN replies, the
badmail reason; never a subject or a body: queued mail holds password-reset links).
Written by temp file + rename, mode 0640, so the site (the relay's group) reads a
whole file or the one before. Both sides use this module: the format has one home.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from relay.admin.listing import MessageRow, newest_rows
from relay.admin.status import status_report
from relay.daemon.activity import combined
from relay.daemon.pidfile import running_relays
from relay.queue.folders import BADMAIL, DEFERRED, HOLD, Queue
from settings import Config

STATUS_NAME = "status.json"
SNAPSHOT_MODE = 0o640
ROWS_PER_FOLDER = 500       # newest first; the counts are of every message
HISTORY_SHOWN = 10          # the last attempts of each message
REASON_SHOWN = 4000         # characters of a badmail reason
SHOWN_FOLDERS = (DEFERRED, HOLD, BADMAIL)
VERSION = 1


def build(config: Config, queue: Queue, now: float) -> dict:
    """The snapshot as a JSON-ready dict."""
    relays_activity = combined(queue.root, running_relays(config.relay.queue_dir)[0], now)
    report = status_report(config, queue, now=now, from_relays=True)
    messages = {}
    for folder in SHOWN_FOLDERS:
        rows = []
        for row in newest_rows(queue, folder, ROWS_PER_FOLDER, now):
            item = row.to_json()
            history = queue.history(row.id)
            item["history"] = [{"at": a.at, "code": a.code, "reply": a.reply,
                                "recipients": a.recipients}
                               for a in (history.attempts[-HISTORY_SHOWN:] if history else [])]
            if folder == BADMAIL:
                item["reason"] = (queue.reason(row.id) or "")[:REASON_SHOWN]
            rows.append(item)
        messages[folder] = rows
    return {"version": VERSION, "at": now, "publisher": os.getpid(), "status": report.to_json(),
            "activity": relays_activity, "messages": messages, "rows_per_folder": ROWS_PER_FOLDER}


def write(admin_dir: Path, snapshot: dict) -> None:
    """Replace status.json atomically; raises OSError (a full disk: the last one stays)."""
    path = Path(admin_dir) / STATUS_NAME
    temp = path.with_name(f".{STATUS_NAME}.{os.getpid()}.tmp")
    data = json.dumps(snapshot).encode()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, SNAPSHOT_MODE)
    try:
        try:
            os.fchmod(fd, SNAPSHOT_MODE)   # the relay's umask is 0077; the site reads by the group
            if os.write(fd, data) != len(data):
                raise OSError("short write (a full disk?)")
        finally:
            os.close(fd)
        os.rename(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@dataclass
class Snapshot:
    """status.json as the site reads it, its ages brought up to `now`."""
    at: float
    age: float                           # how old the snapshot is
    status: dict
    activity: dict
    rows: dict[str, list[tuple[MessageRow, dict]]]   # folder -> (row, the rest: history, reason)
    rows_per_folder: int


def read(admin_dir: Path, now: float | None = None) -> Snapshot | None:
    """The last snapshot the relay published (None: none yet, or unreadable)."""
    now = time.time() if now is None else now
    try:
        doc = json.loads((Path(admin_dir) / STATUS_NAME).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        return None
    age = max(0.0, now - doc["at"])
    rows = {}
    for folder, items in doc["messages"].items():
        rows[folder] = []
        for item in items:
            row = MessageRow.from_json(item)
            row.age += age
            rows[folder].append((row, {"history": item.get("history", []),
                                       "reason": item.get("reason")}))
    for totals in doc["status"]["folders"].values():
        if totals.get("oldest_age") is not None:
            totals["oldest_age"] += age
    return Snapshot(doc["at"], age, doc["status"], doc["activity"], rows, doc["rows_per_folder"])
