"""Bounces that reach the site: one rule for what a failed delivery does to a member's address,
and the relay's feedback file read into it.

count_failure() is the one change a failure makes to a member, whether the relay's feedback
file says it or a bounce that came back to the return path (webapp.inbound.returned_mail);
is_hard() is the one rule of which failures mark at once. The relay appends one JSON line
per recipient refused for good or expired to [relay] feedback_file, a
channel.feedback.FeedbackLine, read back here with the same class. The outbox worker reads
the new lines every few seconds (`flask --app webapp read-feedback` does it once) and, for a member's address:
  - a hard failure (an enhanced status 5.1.x: no such mailbox, no such domain; without a
    status, a bare 550 or a reply that says the user is unknown) marks it bouncing at once;
  - any other failure, permanent or temporary, or an expiry (a full mailbox, a policy
    refusal, a host that never answered) counts as soft; [webapp] bounce_soft_limit of
    them mark it. users.bounce_reason keeps the last one's text (the reply, the DSN's
    Diagnostic-Code), which the member's banner and settings page show.
A bouncing member gets no notifications, digests or newsletters, and sees a banner on
every page asking them to confirm the address or change it; confirming clears the mark.
How far the file was read is kept per host and file (feedback_cursors: inode and offset)
and moved in the same transaction as the marks, so a line counts once however many
workers read, and a rotation (FILE renamed to FILE.1) loses nothing: FILE.1 is finished first.
A line that is not a feedback line (channel.feedback.FeedbackLineError: not JSON, nested too
deeply, a field of the wrong type) is skipped: logged with its file, byte offset and why, and
counted in what read_feedback() returns (FeedbackRead.skipped); the lines around it count.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from channel.feedback import EXPIRED, REFUSED, FeedbackLine, FeedbackLineError, rotated
from webapp.accounts.models import User
from webapp.mail.models import FeedbackCursor
from webapp.site.database import utcnow
from webapp.site.extensions import db
from webapp.site.savepoints import savepoint

log = logging.getLogger(__name__)
_HARD_STATUS = re.compile(r"5\.1\.\d{1,3}")
# What servers say, without an enhanced status, when the mailbox does not exist.
_UNKNOWN_USER = re.compile(r"user unknown|unknown user|no such (user|mailbox|recipient)|"
                           r"does not exist|doesn't have an? \S+ account|no mailbox here",
                           re.IGNORECASE)
READ_AT_MOST = 1_000_000   # bytes a round takes: one transaction stays small


def bounce_kind(line: FeedbackLine) -> str | None:
    """"hard", "soft", or None for a line that is not about a failed recipient."""
    if line.kind == EXPIRED:
        return "soft"
    if line.kind != REFUSED:
        return None
    return "hard" if is_hard(line.status, line.code, line.reply) else "soft"


def is_hard(status: str | None, code: int | None, text: str = "") -> bool:
    """Whether a failure says the address itself is gone (marks at once): an enhanced status
    decides (5.1.x); without one, a 550 or a `text` saying the user is unknown."""
    if status:
        return bool(_HARD_STATUS.fullmatch(status))
    return code == 550 or bool(_UNKNOWN_USER.search(text))


@dataclass(frozen=True)
class Failure:
    """One failed delivery to a member's address, however the site learned of it."""
    hard: bool        # is_hard(): marks at once; else counts towards [webapp] bounce_soft_limit
    reason: str       # what a person reads: the server's reply, the DSN's Diagnostic-Code
    at: datetime      # when it failed (naive UTC)


def count_failure(member: User, failure: Failure, soft_limit: int) -> bool:
    """The one change a failure makes to a member: the reason kept, a soft one counted, the
    address marked bouncing when hard or at the limit; True when this call marked it."""
    member.bounce_reason = failure.reason[:300]
    if not failure.hard:
        member.soft_bounces += 1
    marks = member.bouncing_at is None and (failure.hard or member.soft_bounces >= soft_limit)
    if marks:
        member.bouncing_at = failure.at
        log.info("member %s: address marked bouncing (%s)", member.id, member.bounce_reason)
    return marks


@dataclass(frozen=True)
class FeedbackRead:
    """What one read_feedback() took: lines read (the skipped among them), members marked."""
    lines: int
    marked: int
    skipped: int = 0       # lines that were not feedback lines: logged one by one

    def __add__(self, other: FeedbackRead) -> FeedbackRead:
        return FeedbackRead(self.lines + other.lines, self.marked + other.marked,
                            self.skipped + other.skipped)


NOTHING = FeedbackRead(0, 0)


def read_feedback(path: Path, soft_limit: int) -> FeedbackRead:
    """Take the lines added since the last call: how many, how many members marked, how many
    skipped. Raises only for the database (the lines wait for the next call)."""
    total = NOTHING
    for _round in range(100):   # bounded: a file growing faster than we read waits for next time
        taken, done = _read_round(path, soft_limit)
        total += taken
        if done:
            break
    return total


def _read_round(path: Path, soft_limit: int) -> tuple[FeedbackRead, bool]:
    """One transaction's worth: what it took, and whether there is nothing more to read now."""
    cursor = _cursor(str(path))
    try:
        current = os.stat(path)
    except FileNotFoundError:
        current = None
    data, inode, read_to = b"", cursor.inode, cursor.read_to
    source, start = path, read_to
    if cursor.inode and (current is None or current.st_ino != cursor.inode):
        source = rotated(path)
        data, read_to = _complete_lines(source, cursor.inode, read_to)
        if not data and current is not None:   # the old file is finished: follow the new one
            inode, read_to = current.st_ino, 0
    elif current is not None:
        inode = current.st_ino
    if not data and current is not None and inode == current.st_ino:
        source, start = path, read_to
        data, read_to = _complete_lines(path, inode, read_to)
    if (inode, read_to) == (cursor.inode, cursor.read_to):
        db.session.commit()
        return NOTHING, True
    marked, skipped = _apply(data, soft_limit, source, start)
    moved = db.session.execute(
        db.update(FeedbackCursor).where(FeedbackCursor.id == cursor.id,
                                        FeedbackCursor.inode == cursor.inode,
                                        FeedbackCursor.read_to == cursor.read_to)
        .values(inode=inode, read_to=read_to))
    if moved.rowcount != 1:   # another worker took these lines first
        db.session.rollback()
        return NOTHING, False
    db.session.commit()
    return FeedbackRead(data.count(b"\n"), marked, skipped), False


def _cursor(path: str) -> FeedbackCursor:
    host = socket.gethostname()
    query = db.select(FeedbackCursor).filter_by(host=host, path=path)
    cursor = db.session.execute(query).scalar_one_or_none()
    if cursor is None:
        try:
            with savepoint():
                db.session.add(FeedbackCursor(host=host, path=path, inode=0, read_to=0))
        except IntegrityError:
            pass
        cursor = db.session.execute(query).scalar_one()
    return cursor


def _complete_lines(path: Path, inode: int, start: int) -> tuple[bytes, int]:
    """The whole lines of `path` (if it is still the file `inode`) after `start`, and the
    offset after them; a line still being written waits for the next round."""
    try:
        with open(path, "rb") as f:
            if inode and os.fstat(f.fileno()).st_ino != inode:
                return b"", start
            f.seek(start)
            chunk = f.read(READ_AT_MOST)
    except FileNotFoundError:
        return b"", start
    except OSError as e:
        log.warning("cannot read the relay's feedback file %s: %s", path, e.strerror)
        return b"", start
    end = chunk.rfind(b"\n") + 1
    return chunk[:end], start + end


def _apply(data: bytes, soft_limit: int, source: Path, start: int) -> tuple[int, int]:
    """Mark the members the whole lines in `data` (read from `source` at byte `start`) are
    about; returns (members marked, lines skipped)."""
    marked = skipped = 0
    at = start
    for raw in data.split(b"\n")[:-1]:
        line, at = _feedback_line(raw, source, at), at + len(raw) + 1
        if line is None:
            skipped += 1
        else:
            marked += _mark(line, soft_limit)
    return marked, skipped


def _feedback_line(raw: bytes, source: Path, at: int) -> FeedbackLine | None:
    """The line read typed, or None when it is not a feedback line: said, with where it is."""
    try:
        return FeedbackLine.from_line(raw)
    except FeedbackLineError as e:
        why = str(e)
    except Exception as e:   # whatever a line can make the reader raise: that line alone is lost
        why = f"unreadable ({type(e).__name__}: {e})"
    log.warning("feedback file %s: the line at byte %d skipped: %s", source, at, why)
    return None


def _mark(line: FeedbackLine, soft_limit: int) -> int:
    """Count one failure against the member it is about; 1 when that marks them bouncing."""
    kind = bounce_kind(line)
    member = User.by_email(line.recipient) if kind else None
    if member is None:
        return 0
    return int(count_failure(member, Failure(kind == "hard", line.reply, _when(line)), soft_limit))


def _when(line: FeedbackLine) -> datetime:
    try:
        return datetime.fromtimestamp(line.at, UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):   # no time, or not a possible one
        return utcnow()


def confirm_address(member: User) -> None:
    """The member says the address is right: clear the mark and start counting again."""
    member.bouncing_at = None
    member.soft_bounces = 0
    member.bounce_reason = ""
