"""Dropping a message file by hand: check it as the relay will read it, then place it in pickup.

drop_message() is the one rule behind `relay drop`, the inbox's upload page and its
POST /api/v1/pickup, so all three refuse a file in the same words: the size first (a file
cut off at the limit would otherwise read as "not a message"), then parse_pickup() (empty,
a NUL byte, no header block, looks truncated, no sender, no recipients), then
PickupWriter.write_bytes() (atomic; the folder missing, not writable, full). Reads only the
bytes it is given; writes one file in [pickup] dir, bounded by [relay] max_message_size
(the writer's max_size). Raises DropRefused, whose text is the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spooler.envelope import MalformedMessage, parse_pickup
from spooler.names import TRANSACTIONAL
from spooler.pickup import PickupError, PickupWriter


class DropRefused(Exception):
    """The file was not placed in pickup (and nothing was left there); str() says why."""


@dataclass(frozen=True)
class Dropped:
    """A file placed in pickup, and the envelope the relay will send it with."""
    path: Path
    sender: str
    recipients: tuple[str, ...]


def drop_message(data: bytes, writer: PickupWriter, priority: str = TRANSACTIONAL) -> Dropped:
    """Check `data` as a pickup file and place it in the writer's folder; DropRefused if not."""
    try:
        writer.check_size(data)   # before parsing: a cut-off file would say "not a message"
        parsed = parse_pickup(data)
        path = writer.write_bytes(data, priority=priority)
    except (MalformedMessage, PickupError) as e:
        raise DropRefused(refusal_reason(e)) from e
    return Dropped(path, parsed.sender, parsed.recipients)


def refusal_reason(error: Exception) -> str:
    """The words for a file that was refused: an OSError (reading it) by its strerror alone."""
    if isinstance(error, OSError) and not isinstance(error, PickupError):
        return error.strerror or str(error)
    return str(error)


def queued_line(name: str, dropped: Dropped) -> str:
    """What `relay drop` and the upload page say of a file placed in pickup."""
    count = len(dropped.recipients)
    return (f"queued  {name} -> {dropped.path} (from <{dropped.sender}>, "
            f"{count} recipient{'s' if count != 1 else ''})")


def refused_line(name: str, reason: str) -> str:
    """What `relay drop` and the upload page say of a file that was refused."""
    return f"refused {name}: {reason}"
