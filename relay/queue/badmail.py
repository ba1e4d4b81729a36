"""The badmail record: the reason file (badmail/ID.bdr) a person reads, written here alone.

reason_text() is the .bdr of a message that was claimed (refused, expired, too big,
not a message): why, for whom, and every attempt. unreadable_reason_text() is the .bdr
of a file the relay would not read (a symlink, fifo, hard link, a file it may not
read), which badmail_unreadable() moves into badmail/ untouched, never following or
reading it. expire_badmail() removes what is older than [relay] badmail_max_age.
Names are escaped (printable) so a hostile file name cannot forge a line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from relay.queue.files import NoSpace, no_space
from relay.queue.folders import BADMAIL, PICKUP, Queue
from relay.queue.history import History, iso_time
from spooler.names import BULK, TRANSACTIONAL, message_name, new_queue_id, printable, priority_of, queue_id_of


def reason_text(queue_id: str, reason: str, history: History, sender: str | None,
                owed: Iterable[str], now: float) -> str:
    """The .bdr of a claimed message: why, for whom (refused, still owed), and every attempt."""
    lines = [f"reason: {reason}", f"queue id: {queue_id}"]
    if history.source:
        lines.append(f"pickup file: {printable(history.source)}")
    if sender is not None:
        lines.append(f"sender: <{sender}>")
    if history.refused:
        lines.append("refused:")
        lines += [f"  <{r.recipient}>: {r.reply} ({iso_time(r.at)})" for r in history.refused]
    refused = {x.recipient for x in history.refused}
    undelivered = [r for r in owed if r not in refused]
    if undelivered:
        lines.append("undelivered: " + ", ".join(f"<{r}>" for r in undelivered))
    lines.append(f"arrived: {iso_time(history.arrived)}")
    lines.append(f"attempts: {len(history.attempts)}")
    if history.attempts:
        lines.append(f"first attempt: {iso_time(history.attempts[0].at)}")
        lines.append(f"last attempt: {iso_time(history.attempts[-1].at)}")
        lines.append("history:")
        lines += [f"  {iso_time(a.at)}  {a.reply}  ({', '.join(a.recipients)})" for a in history.attempts]
    lines.append(f"moved to badmail: {iso_time(now)}")
    return "\n".join(lines) + "\n"


def unreadable_reason_text(why: str, where: str, name: str, now: float) -> str:
    """The .bdr of a file the relay would not read: why, which file, when it was moved."""
    return f"reason: {why}\n{where}: {printable(name)}\nmoved at: {iso_time(now)}\n"


def badmail_unreadable(queue: Queue, folder: str, name: str, why: str) -> str:
    """Move folder/name (a symlink, fifo, hard link, unreadable file) to badmail untouched,
    never following or reading it. Raises NoSpace, nothing moved, on a full disk."""
    source = queue.pickup / name if folder == PICKUP else queue.dirs[folder] / name
    queue_id = new_queue_id() if folder == PICKUP else queue_id_of(name)
    where = "pickup file" if folder == PICKUP else f"{folder} file"
    with no_space(f"the reason file badmail/{queue_id}.bdr: {folder} file {name!r} left where it is"):
        queue.write_reason(queue_id, unreadable_reason_text(why, where, name, time.time()))
    try:
        with no_space(f"moving {folder} file {name!r} to badmail/: left where it is"):
            os.rename(source, queue.dirs[BADMAIL] / message_name(queue_id, priority_of(name)))
    except FileNotFoundError:
        queue.drop_reason(queue_id)
    except NoSpace:
        queue.drop_reason(queue_id)
        raise
    return queue_id


def expire_badmail(queue: Queue, max_age: float, now: float) -> int:
    """Remove badmail older than max_age (by when it arrived there) and its reason file."""
    removed = 0
    for entry in os.scandir(queue.dirs[BADMAIL]):
        if not entry.name.endswith(".bdr"):
            continue
        try:
            if now - entry.stat().st_mtime <= max_age:
                continue
        except FileNotFoundError:
            continue
        queue_id = entry.name[: -len(".bdr")]
        for name in (message_name(queue_id, TRANSACTIONAL), message_name(queue_id, BULK)):
            path = queue.dirs[BADMAIL] / name
            if os.path.lexists(path):
                path.unlink()
                removed += 1
        os.unlink(entry.path)
        queue.drop_history(queue_id)
    return removed
