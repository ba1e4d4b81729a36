"""Queue ids and message file names: the one home of the rules both the writers and the relay use.

A queue id is 24 lowercase hex digits: 14 of microseconds since the epoch (so
ids sort by creation time), 10 random. A message file is `ID.eml`
(transactional) or `ID.bulk.eml` (bulk): the class is in the name, so the relay
orders files without opening them, and the same name serves in pickup and in
every queue folder. Names starting with "." (writers' temporary files) or not
ending in .eml are never messages. printable() shows a name someone else chose (a
dropped file's, an admin's) on one line of a log or a reason file. Pure functions;
nothing here touches a file.
"""

from __future__ import annotations

import os
import re
import time

TRANSACTIONAL = "transactional"
BULK = "bulk"
PRIORITIES = (TRANSACTIONAL, BULK)
_QUEUE_ID = re.compile(r"[0-9a-f]{24}")


def new_queue_id() -> str:
    """A file-name-safe id, unique across processes and hosts, that sorts by creation time.

    14 hex digits of microseconds since the epoch, then 10 random hex digits
    (40 bits: a clash needs two writers in the same microsecond and 1 in 10^12 luck).
    """
    return f"{time.time_ns() // 1000:014x}{os.urandom(5).hex()}"


def is_queue_id(text: str) -> bool:
    return _QUEUE_ID.fullmatch(text) is not None


def message_name(queue_id: str, priority: str = TRANSACTIONAL) -> str:
    """The file name of a message of this class, in pickup and in the queue's folders."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {PRIORITIES}, not {priority!r}")
    return f"{queue_id}.eml" if priority == TRANSACTIONAL else f"{queue_id}.{BULK}.eml"


def priority_of(name: str) -> str:
    """The class a file name carries (hand-dropped files are transactional)."""
    return BULK if name.endswith(f".{BULK}.eml") else TRANSACTIONAL


def is_message_name(name: str) -> bool:
    """Names the relay takes: *.eml, not hidden (writers' temporary names start with '.')."""
    return name.endswith(".eml") and not name.startswith(".")


def queue_id_of(name: str) -> str:
    return name.split(".", 1)[0]


def id_time(queue_id: str) -> float:
    """The creation (claim) time in a queue id; now for a name that is not one (dropped by hand)."""
    try:
        return int(queue_id[:14], 16) / 1e6
    except ValueError:
        return time.time()


def printable(text: str, keep: str = "") -> str:
    """Text with control characters escaped (\\n, \\x1b), but those in `keep`: a file name (or
    any name someone else chose) fit for a one-line field of a log line or a reason file, or
    (keep="\\t\\n") a binary file's bytes fit for a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else repr(c)[1:-1] for c in text)
