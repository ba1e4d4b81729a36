"""The feedback file: one JSON line per recipient that failed for good, for the site to read.

When the smart host refuses a recipient for good (5xx) or a message expires
undelivered, the daemon appends one line per address to [relay] feedback_file
(empty: off): a channel.feedback.FeedbackLine (at, queue_id, message_id, recipient,
kind "refused" or "expired", code, status: the enhanced code, e.g. "5.1.1", reply),
whose format the site reads with the same class. Each batch is one write() to a file
opened O_APPEND, so lines from several relay processes never interleave; the file is
mode 0640 (the site reads it through the relay's group). Over ROTATE_AT bytes it is
renamed to FILE.1 (the one before is dropped): a reader finishes FILE.1, then follows
FILE. Failing to write is logged by the caller; the refusal stays recorded in the
message's history and badmail.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

from channel.feedback import EXPIRED, FEEDBACK_MODE, REFUSED, FeedbackLine, rotated
from relay.delivery.fate import Fate
from relay.queue.history import History

ROTATE_AT = 10_000_000
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]{1,500}>)", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b")


def message_id_of(content: bytes) -> str:
    """The Message-ID in a message's header section ("" if it has none)."""
    head = content.split(b"\r\n\r\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    return found.group(1).decode("utf-8", "replace") if found else ""


def failed_recipients(queue_id: str, content: bytes, fate: Fate, history: History,
                      now: float) -> list[FeedbackLine]:
    """The lines an attempt's fate adds: the recipients it refused for good, and, when it
    expired the message, everyone still owed it who had not been refused before. The
    Message-ID is looked for in `content` only then: most fates owe no line."""
    expired = fate.reason.startswith("expired")
    if not fate.refused and not expired:
        return []
    message_id = message_id_of(content)
    lines = [_line(now, queue_id, message_id, r.recipient, REFUSED, r.reply) for r in fate.refused]
    if expired:
        refused = {r.recipient for r in history.refused} | {r.recipient for r in fate.refused}
        lines += [_line(now, queue_id, message_id, rcpt, EXPIRED, fate.reason)
                  for rcpt in fate.recipients_left if rcpt not in refused]
    return lines


def enhanced_status(reply: str) -> str | None:
    """The RFC 3463 code a reply starts with ("550 5.1.1 ..." -> "5.1.1"), or None."""
    found = _STATUS.match(reply)
    return found.group(1) if found else None


def _line(now: float, queue_id: str, message_id: str, recipient: str, kind: str,
          reply: str) -> FeedbackLine:
    code = int(reply[:3]) if reply[:3].isdigit() else None
    return FeedbackLine(now, queue_id, message_id, recipient, kind, code, enhanced_status(reply), reply)


class FeedbackFile:
    def __init__(self, path: Path | None, rotate_at: int = ROTATE_AT):
        self.path = path
        self.rotate_at = rotate_at

    def append(self, lines: list[FeedbackLine]) -> None:
        """Append the lines in one write; raises OSError (a full disk, a missing folder)."""
        if self.path is None or not lines:
            return
        data = "".join(line.to_line() for line in lines).encode()
        # Writers and the rotation hold the file's lock: a rotation never loses a line, and a
        # writer that opened the file just before it was rotated opens the new one.
        for _try in range(3):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                         FEEDBACK_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                mine = os.fstat(fd)
                try:
                    current = os.stat(self.path)
                except FileNotFoundError:
                    continue
                if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
                    continue  # rotated while we waited for the lock
                if mine.st_size >= self.rotate_at:
                    os.rename(self.path, rotated(self.path))
                    continue
                os.fchmod(fd, FEEDBACK_MODE)  # whatever the relay's umask: the site's group reads it
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(f"wrote {written} of {len(data)} bytes (a full disk?)")
                return
            finally:
                os.close(fd)
        raise OSError("the file kept being rotated under us")
