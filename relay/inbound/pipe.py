"""`relay deliver-inbound [-f SENDER] RECIPIENT...`: one message on standard input, from an
MTA that already took it (a Postfix `pipe` transport, an alias), stored in the drop folder as
`relay receive` stores it.

The same checks as over SMTP (relay.inbound.policy): every recipient at one of [inbound]
domains, the sender a plain address or empty, at most max_message_size bytes, content the
site can read. Line ends become CRLF (an MTA's pipe writes LF); a Received: line "by" this
host "from userid" the caller goes on top. The answer is sendmail's (sysexits.h), which the
MTA acts on, and one line for standard error that starts with the enhanced status code
(Postfix's pipe then uses it in its bounce or deferral):
  0  EX_OK        stored, durably
  64 EX_USAGE     no recipient given
  65 EX_DATAERR   too big, a sender that is not an address, content the site cannot read
  67 EX_NOUSER    a recipient outside the domains (nothing is stored for any of them)
  75 EX_TEMPFAIL  cannot be stored now: the drop folder is missing or full, standard input
                  could not be read; the MTA keeps the message and tries again
Reads [inbound] domains, dir, max_message_size, hostname. Writes one drop file or nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import BinaryIO

from relay.inbound.policy import Refusal, recipient_refusal, sender_refusal, size_refusal
from relay.inbound.store import DropFolder, DropFolderError, MessageRefused
from relay.inbound.trace import local_received, this_host
from settings import InboundConfig
from spooler.envelope import crlf_lines


@dataclass(frozen=True)
class PipeResult:
    exit_code: int
    line: str       # for standard error: the enhanced status code first, then what happened

    @classmethod
    def refused(cls, refusal: Refusal) -> PipeResult:
        return cls(refusal.exit_code, f"{refusal.status} {refusal.text}")


def deliver_inbound(config: InboundConfig, sender: str, recipients: list[str],
                    stdin: BinaryIO) -> PipeResult:
    """Store the message on `stdin` for `recipients` in the drop folder, or say why not."""
    if not recipients:
        return PipeResult(os.EX_USAGE, "5.3.0 no recipient given: relay deliver-inbound "
                                       "[-f SENDER] RECIPIENT...")
    domains = frozenset(config.domains)
    for refusal in (*(recipient_refusal(r, domains) for r in recipients), sender_refusal(sender)):
        if refusal is not None:
            return PipeResult.refused(refusal)
    try:
        content = stdin.read(config.max_message_size + 1)   # one byte over is enough to refuse
    except OSError as e:
        return PipeResult(os.EX_TEMPFAIL, f"4.3.0 cannot read the message on standard input: "
                                          f"{e.strerror or e}")
    refusal = size_refusal(len(content), config.max_message_size)
    if refusal is not None:
        return PipeResult.refused(refusal)
    drop = DropFolder(config.dir)
    queue_id = drop.new_id()
    trace = local_received(this_host(config.hostname), queue_id, uid=os.getuid(),
                           recipients=recipients, now=time.time())
    try:
        path = drop.store(queue_id, sender, recipients, trace, crlf_lines(content))
    except MessageRefused as e:
        return PipeResult.refused(e.refusal)
    except DropFolderError as e:
        return PipeResult(os.EX_TEMPFAIL, f"4.3.0 {e}; the message stays with the sender's MTA")
    return PipeResult(os.EX_OK, f"2.0.0 stored as {path.name}")
