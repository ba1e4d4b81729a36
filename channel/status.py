"""The queue's status for the site's dashboard: <admin_dir>/status.json, its format both ways.

The relay (relay.admin.status.dashboard_snapshot builds it, relay.daemon.control publishes it every
PUBLISH_EVERY seconds) writes a Snapshot: the status report of `relay status`
(folder counts and oldest ages, each smart host as the relays last saw it, the
running relays, the pickup disk, the problems a human must see), the delivery rate
and last error of the live relays, and the rows of the newest messages in
SHOWN_FOLDERS (envelope, attempts with their replies, the badmail reason; never a
subject or a body: queued mail holds password-reset links). Written whole
(channel.files.replace_file), mode 0640: the site, in the relay's admin group,
reads the new file or the one before. read() trusts the relay's file as far as its
shape: anything else (missing, another VERSION, a broken document) reads as None.
matches() is the filter of `relay list` and of the dashboard's lists.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from channel.files import replace_file
from channel.jsondoc import parse_json

STATUS_NAME = "status.json"
SNAPSHOT_MODE = 0o640
VERSION = 1
PUBLISH_EVERY = 3.0      # seconds between snapshots: an older one means no relay is publishing
# The queue folders the snapshot speaks of, by the names the relay's queue gives them.
PICKUP, ACTIVE, DEFERRED, HOLD, BADMAIL = "pickup", "active", "deferred", "hold", "badmail"
SHOWN_FOLDERS = (DEFERRED, HOLD, BADMAIL)   # the folders whose messages the dashboard lists


def _flat(cls: type, data: dict) -> Any:
    """A dataclass of plain values from its to_json() (keys it does not know are left out)."""
    return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class FolderTotals:
    count: int = 0
    bytes: int = 0
    oldest_age: float | None = None    # seconds since the oldest file's arrival

    def aged(self, seconds: float) -> FolderTotals:
        if self.oldest_age is None:
            return self
        return dataclasses.replace(self, oldest_age=self.oldest_age + seconds)


@dataclass(frozen=True)
class RefusedRecipient:
    """A recipient the smart host refused for good, with its reply and when."""
    recipient: str
    reply: str        # the whole reply, e.g. "550 5.1.1 no such user"
    at: float


@dataclass(frozen=True)
class MessageRow:
    """One queued message as `relay list` and the dashboard show it."""
    id: str
    folder: str
    priority: str
    age: float
    size: int
    sender: str
    recipients: tuple[str, ...]
    attempts: int
    next_attempt: float | None
    last_error: str
    refused: tuple[RefusedRecipient, ...] = ()

    def to_json(self) -> dict:
        return {**self.__dict__, "recipients": list(self.recipients),
                "refused": [dict(r.__dict__) for r in self.refused]}

    @classmethod
    def from_json(cls, data: dict) -> MessageRow:
        row = _flat(cls, data)
        return dataclasses.replace(row, recipients=tuple(row.recipients),
                                   refused=tuple(_flat(RefusedRecipient, r) for r in row.refused))


def matches(row: MessageRow, *, sender: str | None = None, recipient: str | None = None,
            older_than: float | None = None) -> bool:
    """The filters of `relay list` and the dashboard: text in the sender, text in any
    recipient (both ignoring case), at least this old."""
    if older_than is not None and row.age < older_than:
        return False
    if sender and sender.lower() not in row.sender.lower():
        return False
    return not recipient or any(recipient.lower() in r.lower() for r in row.recipients)


@dataclass(frozen=True)
class AttemptShown:
    at: float
    code: int | None       # None: no reply came (refused, timeout)
    reply: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class ShownMessage:
    """A row of the dashboard's lists: the message, its last attempts, its badmail reason."""
    row: MessageRow
    history: tuple[AttemptShown, ...] = ()
    reason: str | None = None   # badmail only

    def to_json(self) -> dict:
        item = self.row.to_json()
        item["history"] = [{**a.__dict__, "recipients": list(a.recipients)} for a in self.history]
        if self.reason is not None:
            item["reason"] = self.reason
        return item

    @classmethod
    def from_json(cls, data: dict) -> ShownMessage:
        history = tuple(dataclasses.replace(a, recipients=tuple(a.recipients))
                        for a in (_flat(AttemptShown, x) for x in data.get("history", [])))
        return cls(MessageRow.from_json(data), history, data.get("reason"))


@dataclass(frozen=True)
class SmartHostSeen:
    """One smart host as the running relays last saw it (no probe: a running relay knows)."""
    host: str
    port: int
    reachable: bool | None    # None: no relay has tried it yet
    detail: str
    state: str                # up / cooling down / not checked ...
    cooling_until: float | None = None
    last_error: str = ""
    last_failed: float | None = None
    last_answered: float | None = None


@dataclass(frozen=True)
class RelaySeen:
    """A relay process running on the queue when the snapshot was made."""
    pid: int
    host: str
    started: float
    uptime: float
    supervisor: int | None = None   # the `relay run` that started it, when one did


@dataclass(frozen=True)
class DiskSeen:
    """The pickup filesystem's space (the queue shares it) and whether it is low."""
    path: str
    free_bytes: int
    total_bytes: int
    free_inodes: int | None    # None where the filesystem does not count them
    total_inodes: int | None
    low_below_bytes: int
    low: bool


@dataclass(frozen=True)
class QueueStatus:
    """`relay status --json`'s report, as the publishing relay made it."""
    config: str
    folders: dict[str, FolderTotals]
    smarthosts: tuple[SmartHostSeen, ...]   # in the order they are tried
    relays: tuple[RelaySeen, ...]
    disk: DiskSeen | None
    problems: tuple[str, ...]

    def to_json(self) -> dict:
        first = self.smarthosts[0]
        return {"config": self.config,
                "folders": {f: dict(t.__dict__) for f, t in self.folders.items()},
                "smarthost": {"host": first.host, "port": first.port,
                              "reachable": first.reachable, "detail": first.detail},
                "smarthosts": [dict(h.__dict__) for h in self.smarthosts],
                "relays": [dict(r.__dict__) for r in self.relays],
                "disk": dict(self.disk.__dict__) if self.disk is not None else None,
                "problems": list(self.problems)}

    @classmethod
    def from_json(cls, data: dict) -> QueueStatus:
        disk = data.get("disk")
        return cls(str(data["config"]),
                   {f: _flat(FolderTotals, t) for f, t in data["folders"].items()},
                   tuple(_flat(SmartHostSeen, h) for h in data["smarthosts"]),
                   tuple(_flat(RelaySeen, r) for r in data["relays"]),
                   _flat(DiskSeen, disk) if disk is not None else None,
                   tuple(str(p) for p in data["problems"]))


@dataclass(frozen=True)
class HostHeard:
    reachable: bool | None = None
    detail: str = "no attempt yet"
    at: float | None = None


@dataclass(frozen=True)
class LastError:
    reply: str
    at: float


@dataclass(frozen=True)
class DeliveryActivity:
    """What the live relays did lately, added up over them."""
    sent_last_minute: int
    sent_last_5_minutes: int
    per_minute: float
    smarthost: HostHeard = field(default_factory=HostHeard)   # as the last relay to try it saw it
    last_error: LastError | None = None   # the last reply that was not 2xx, any relay's

    def to_json(self) -> dict:
        return {**self.__dict__, "smarthost": dict(self.smarthost.__dict__),
                "last_error": dict(self.last_error.__dict__) if self.last_error else None}

    @classmethod
    def from_json(cls, data: dict) -> DeliveryActivity:
        error = data.get("last_error")
        return cls(int(data["sent_last_minute"]), int(data["sent_last_5_minutes"]),
                   float(data["per_minute"]), _flat(HostHeard, data["smarthost"]),
                   _flat(LastError, error) if error else None)


@dataclass(frozen=True)
class Snapshot:
    """status.json. `age` is not written: how old it was when read (0 when made)."""
    at: float
    publisher: int                                  # the relay process that wrote it
    status: QueueStatus
    activity: DeliveryActivity
    messages: dict[str, tuple[ShownMessage, ...]]   # SHOWN_FOLDERS -> the newest, newest first
    rows_per_folder: int                            # at most this many rows a folder
    age: float = 0.0

    def to_json(self) -> dict:
        return {"version": VERSION, "at": self.at, "publisher": self.publisher,
                "status": self.status.to_json(), "activity": self.activity.to_json(),
                "messages": {f: [m.to_json() for m in shown] for f, shown in self.messages.items()},
                "rows_per_folder": self.rows_per_folder}

    @classmethod
    def from_json(cls, doc: dict) -> Snapshot:
        """Raises KeyError, TypeError or ValueError for a document not of this shape."""
        if doc.get("version") != VERSION:
            raise ValueError(f"not version {VERSION}")
        messages = {str(f): tuple(ShownMessage.from_json(x) for x in items)
                    for f, items in doc["messages"].items()}
        return cls(float(doc["at"]), int(doc["publisher"]), QueueStatus.from_json(doc["status"]),
                   DeliveryActivity.from_json(doc["activity"]), messages,
                   int(doc["rows_per_folder"]))

    def seen_at(self, now: float) -> Snapshot:
        """The snapshot with its ages brought up to `now` (and `age` how old it is)."""
        age = max(0.0, now - self.at)
        folders = {f: t.aged(age) for f, t in self.status.folders.items()}
        messages = {f: tuple(dataclasses.replace(m, row=dataclasses.replace(m.row, age=m.row.age + age))
                             for m in shown) for f, shown in self.messages.items()}
        return dataclasses.replace(self, age=age, messages=messages,
                                   status=dataclasses.replace(self.status, folders=folders))


def write(admin_dir: Path, snapshot: Snapshot) -> None:
    """Replace status.json whole; raises OSError (a full disk: the last one stays)."""
    replace_file(Path(admin_dir) / STATUS_NAME, json.dumps(snapshot.to_json()).encode(),
                 SNAPSHOT_MODE)


def read(admin_dir: Path, now: float | None = None) -> Snapshot | None:
    """The last snapshot the relay published, its ages brought up to `now` (None: none yet,
    unreadable, or not of this version)."""
    now = time.time() if now is None else now
    try:
        doc = parse_json((Path(admin_dir) / STATUS_NAME).read_bytes())
        return Snapshot.from_json(doc).seen_at(now)
    except (OSError, KeyError, TypeError, ValueError, AttributeError):
        return None
