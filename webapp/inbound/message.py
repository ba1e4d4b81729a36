"""One file of the drop folder, read: its envelope, its message, and what became of it.

`relay receive` and `relay deliver-inbound` write each inbound message durably as one file in
[inbound] dir, in the pickup format: X-Sender / X-Receiver lines (the SMTP envelope) at the
top, then the message as it arrived. read_drop_file() parses that (spooler.envelope, the one
reader of the format) into a DropFile; a file that is not one raises MalformedMessage with the
reason. Handled names what the inbound worker made of a file, one word per kind, as its
records and the admins' figures count them. Trusts nothing in the file.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from spooler.envelope import parse_pickup

MAX_DROP_FILE = 50 * 1024 * 1024   # bytes read of one file at most; [inbound] max_message_size is below


@lru_cache(maxsize=4096)
def _parsed_header(name: str, value: str):
    return email.policy.default.header_fetch_parse(name, value)


class _ParsedOncePolicy(email.policy.EmailPolicy):
    """email.policy.default, remembering the headers it parsed. The default policy parses a
    header again at every message.get(), and the readers ask a report's Content-Type and its
    parts' fields many times (the parser itself, walk(), get_content_type(), get_param());
    most of a bounce's time went there. Header objects are immutable, and the same (name,
    value) makes the same one, so sharing them between messages changes nothing but the time.
    A long value (rare) is parsed each time and not kept."""

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name") or len(value) > 2000:
            return super().header_fetch_parse(name, value)
        return _parsed_header(name, value)


POLICY = _ParsedOncePolicy()


class Handled(StrEnum):
    """What a drop file became."""
    BOUNCE = "bounce"                  # a delivery failure for a member's address
    COMPLAINT = "complaint"            # an ARF report: the member pressed "this is spam"
    REPLY = "reply"                    # a member's reply, posted as an answer or a comment
    REPLY_REFUSED = "reply_refused"    # a reply that could not be posted (the member is told why)
    AUTO_REPLY = "auto_reply"          # out of office and the like: never counted, posted or answered
    DROPPED = "dropped"                # none of these: kept in the drop folder's badmail with the reason


@dataclass(frozen=True)
class DropFile:
    name: str                          # the file's name in the drop folder
    sender: str                        # envelope sender ("" for a null sender: bounces, reports)
    recipients: tuple[str, ...]        # envelope recipients (the +token addresses)
    content: bytes                     # the message as it arrived, without the envelope lines
    message: EmailMessage = field(compare=False)


@dataclass(frozen=True)
class Result:
    """What the worker made of one file, for its record, its log line and the figures."""
    handled: Handled
    detail: str                        # a person reads this: the DSN's text, why a reply was refused
    member_id: int | None = None


def read_drop_file(path: Path, data: bytes | None = None) -> DropFile:
    """The drop file at `path` (its bytes `data` when read already); MalformedMessage
    (spooler.envelope) when it is not one."""
    if data is None:
        with open(path, "rb") as f:
            data = f.read(MAX_DROP_FILE)
    parsed = parse_pickup(data)
    message = email.message_from_bytes(parsed.content, policy=POLICY)
    return DropFile(path.name, parsed.sender, parsed.recipients, parsed.content, message)
