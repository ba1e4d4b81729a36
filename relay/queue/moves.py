"""The moves of a claimed message after an attempt: delivered, deferred, badmail, or given back.

Only the attempt's exit (relay.delivery.exit) calls these, carrying out the Fate that
relay.delivery.fate decided: a claimed message leaves active/ in no other way. Each
move is one rename() (or unlink) of the locked file, then the lock is released.

A full disk loses nothing: a move that cannot be written (a reason file, a folder
entry) raises NoSpace before the message has moved, so its caller still holds it,
claimed, in active/. A deferral whose history cannot be saved still goes to deferred/
(the previous history stays: at worst a recipient gets the message twice), and a
delivered message that cannot be archived is removed.
"""

from __future__ import annotations

import os

from relay.queue.claims import Claimed
from relay.queue.files import NO_SPACE_ERRNOS, NoSpace, no_space
from relay.queue.folders import BADMAIL, DEFERRED, SENT, Queue
from relay.queue.history import History


def delivered(queue: Queue, claimed: Claimed) -> str:
    """Done with a delivered message. Returns what could not be kept ('' when all was)."""
    lost = ""
    if queue.archive:
        try:
            os.rename(claimed.path, queue.file(SENT, claimed.name))
        except OSError as e:
            if e.errno not in NO_SPACE_ERRNOS:
                raise
            # Delivered: better no archive copy than a second send.
            os.unlink(claimed.path)
            lost = f"no space left on device for its copy in {SENT}/: delivered, not archived"
    else:
        os.unlink(claimed.path)
    if claimed.history is not None:
        queue.drop_history(claimed.queue_id)
    claimed.release()
    return lost


def defer(queue: Queue, claimed: Claimed, history: History, next_attempt: float) -> str:
    """Keep the message for another attempt at next_attempt (stored as the file's mtime).

    Returns what could not be kept ('' when all was): on a full disk the message is
    deferred all the same, with the history it had before this attempt.
    """
    lost = ""
    try:
        queue.save_history(claimed.queue_id, history)
    except OSError as e:
        if e.errno not in NO_SPACE_ERRNOS:
            raise
        lost = (f"no space left on device for its history (meta/{claimed.queue_id}.json): "
                f"moved to {DEFERRED}/ without this attempt recorded")
    os.utime(claimed.fd, (next_attempt, next_attempt))
    with no_space(f"moving it to {DEFERRED}/"):
        os.rename(claimed.path, queue.file(DEFERRED, claimed.name))
    claimed.release()
    return lost


def to_badmail(queue: Queue, claimed: Claimed, reason: str, history: History) -> None:
    """Give up: the message untouched in badmail/ID.eml, the reason beside it in ID.bdr.

    The history stays in meta/ (who is still owed the message, every attempt), so
    `relay list` can show it and requeue-badmail sends only to those recipients.
    Raises NoSpace, the message still in active/ and no reason file left, on a full disk.
    """
    with no_space(f"its reason file ({BADMAIL}/{claimed.queue_id}.bdr)"):
        queue.write_reason(claimed.queue_id, reason)
    try:
        with no_space(f"its history (meta/{claimed.queue_id}.json)"):
            queue.save_history(claimed.queue_id, history)
        with no_space(f"moving it to {BADMAIL}/"):
            os.rename(claimed.path, queue.file(BADMAIL, claimed.name))
    except NoSpace:
        queue.drop_reason(claimed.queue_id)
        raise
    claimed.release()


def put_back(queue: Queue, claimed: Claimed, due: float) -> None:
    """Return an untried message to deferred/, due at `due`; its history stays as it was."""
    os.utime(claimed.fd, (due, due))
    os.rename(claimed.path, queue.file(DEFERRED, claimed.name))
    claimed.release()
