"""What inbound mail is taken: recipients at the [inbound] domains only, a sender the drop file
can hold, a size under the limit, content the site can read. Each refusal is one Refusal, with
its SMTP reply (`relay receive`) and its sendmail exit code (`relay deliver-inbound`).

Reads [inbound] domains and max_message_size (passed in). Pure functions: no I/O.
Never an open relay: an address is ours only when it is a plain local@domain (one @, no
quotes, no route: RFC 5321's source routes are stripped before this sees the address) whose
domain equals one of `domains` without regard to case; `evil-example.org` and
`mail.example.org` are not `example.org`. Sender-specified routing in the local part
(`user%other@ours`, `other!user@ours`) is refused as relaying, as Postfix's
allow_untrusted_routing = no does. The subaddress `local+token@ours` is ours.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from spooler.envelope import MalformedMessage, UnsafeHeaderError, check_address, parse_pickup


@dataclass(frozen=True)
class Refusal:
    """Why a message (or one recipient) is not taken, in both protocols' words."""
    code: int          # SMTP reply code
    status: str        # RFC 3463 enhanced status
    text: str          # for a person: what is wrong
    exit_code: int     # what `relay deliver-inbound` exits with (sysexits.h)

    @property
    def reply(self) -> str:
        return f"{self.code} {self.status} {self.text}"


def recipient_refusal(address: str, domains: frozenset[str]) -> Refusal | None:
    """None when `address` is at one of `domains` (lowercase), else why not."""
    try:
        check_address(address)
    except UnsafeHeaderError:
        return Refusal(553, "5.1.3", f"<{address}>: not a plain address like name@example.org",
                       os.EX_NOUSER)
    local, _, domain = address.rpartition("@")
    if domain.lower() not in domains or "%" in local or "!" in local:
        return Refusal(550, "5.7.1", f"<{address}>: relay not permitted", os.EX_NOUSER)
    return None


def sender_refusal(sender: str) -> Refusal | None:
    """None for the null sender ("") or a plain address; the drop file holds nothing else."""
    if not sender:
        return None
    try:
        check_address(sender)
    except UnsafeHeaderError:
        return Refusal(553, "5.1.7", f"<{sender}>: sender not a plain address like name@example.org",
                       os.EX_DATAERR)
    return None


def size_refusal(size: int, limit: int) -> Refusal | None:
    """None when `size` bytes of message are within [inbound] max_message_size."""
    if size <= limit:
        return None
    return Refusal(552, "5.3.4", f"message larger than the {limit:,}-byte limit", os.EX_DATAERR)


def content_refusal(stored: bytes) -> Refusal | None:
    """None when the drop file's bytes read as the site reads them (spooler.envelope), else why:
    a NUL byte, no header block, a MIME structure cut short."""
    try:
        parse_pickup(stored)
    except MalformedMessage as e:
        return Refusal(554, "5.6.0", f"message not accepted: {e}", os.EX_DATAERR)
    return None
