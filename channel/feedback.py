"""The feedback file's lines: one JSON line per recipient that failed for good, relay to site.

The relay (relay.delivery.feedback) appends a FeedbackLine's to_line() to [relay]
feedback_file for each recipient the smart host refused for good (kind "refused")
or a message that expired still owed (kind "expired"); the site (webapp.mail.bounces)
reads each back with from_line(). The file is mode FEEDBACK_MODE (the site reads it
through the relay's group); over a size the relay renames it to rotated(path), which
a reader finishes before it follows the new file. The shape on disk, one object a
line with the keys at, queue_id, message_id, recipient, kind, code, status, reply,
is what the relay has always written. from_line() raises FeedbackLineError for a
line that is not such an object (not JSON, nested too deeply for the parser, a field
of the wrong type, an `at` that is no time): the reader skips it, saying so.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from channel.jsondoc import parse_json

REFUSED, EXPIRED = "refused", "expired"
FEEDBACK_MODE = 0o640
_TEXT_FIELDS = ("queue_id", "message_id", "recipient", "kind", "reply")


class FeedbackLineError(Exception):
    """A line of the feedback file that is not a feedback line; the message says why."""


@dataclass(frozen=True)
class FeedbackLine:
    at: float | None            # when the relay gave up on the recipient (None: not said)
    queue_id: str
    message_id: str             # the message's Message-ID ("" when it had none)
    recipient: str
    kind: str                   # REFUSED or EXPIRED (a reader skips kinds it does not know)
    code: int | None            # the SMTP reply code (None: no reply, e.g. expired unanswered)
    status: str | None          # the enhanced status code, "5.1.1" (None: the reply had none)
    reply: str

    def to_line(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False) + "\n"

    @classmethod
    def from_line(cls, raw: bytes | str) -> FeedbackLine:
        try:
            doc = parse_json(raw)
        except ValueError as e:
            raise FeedbackLineError(f"not JSON: {e}: {raw[:200]!r}") from None
        if not isinstance(doc, dict):
            raise FeedbackLineError(f"not a JSON object: {raw[:200]!r}")
        text = {k: doc.get(k) or "" for k in _TEXT_FIELDS}
        wrong = [k for k, v in text.items() if not isinstance(v, str)]
        at, code, status = doc.get("at"), doc.get("code"), doc.get("status")
        if at is not None and not _is_time(at):
            raise FeedbackLineError(f"at is not a time (seconds since the epoch): {raw[:200]!r}")
        if not isinstance(code, int) or isinstance(code, bool):
            code = None
        if status is not None and not isinstance(status, str):
            wrong.append("status")
        if wrong:
            raise FeedbackLineError(f"{', '.join(wrong)} not text: {raw[:200]!r}")
        return cls(at=None if at is None else float(at), code=code, status=status or None, **text)


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rotated(path: Path) -> Path:
    """Where the file before the current one is: FILE.1."""
    return Path(f"{path}.1")
