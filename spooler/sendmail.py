"""The envelope rules of /usr/sbin/sendmail, for programs that pipe mail into `relay sendmail`.

Recipients are the command-line addresses, plus (with -t) those in To/Cc/Bcc;
the sender is -f, else the Sender/From header, else the local user at this
host. That is the whole envelope: X-Sender/X-Receiver lines at the top of the
piped message are removed, since in pickup they would count as envelope too.
Without -i, a line holding a single "." ends the message, as in sendmail.
"""

from __future__ import annotations

import getpass
import re
import socket
from email.parser import BytesHeaderParser
from email.policy import compat32

from spooler.envelope import (
    MalformedMessage,
    check_address,
    envelope_lines,
    header_envelope,
    strip_envelope_lines,
)

_LONE_DOT = re.compile(rb"^\.\r?$", re.MULTILINE)


def read_message(data: bytes, ignore_dots: bool) -> bytes:
    """The message as sendmail would take it from stdin."""
    if not ignore_dots:
        match = _LONE_DOT.search(data)
        if match:
            data = data[: match.start()]
    return data


def envelope(data: bytes, recipients: list[str], extract: bool,
             sender: str | None) -> tuple[str, list[str]]:
    """(sender, recipients) by sendmail's rules; raises MalformedMessage when there are none."""
    head = data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\n\n")
    from_headers, to_headers = header_envelope(headers)
    found = list(dict.fromkeys(list(recipients) + (to_headers if extract else [])))
    if not found:
        raise MalformedMessage("no recipients: give addresses, or -t to read To/Cc/Bcc")
    for address in found:
        try:
            check_address(address, "recipient")
        except ValueError as e:
            raise MalformedMessage(str(e)) from None
    if sender is None:
        sender = from_headers
    if not sender:
        sender = f"{getpass.getuser()}@{socket.getfqdn()}"
    return sender, found


def pickup_file(data: bytes, sender: str, recipients: list[str]) -> tuple[bytes, int]:
    """The pickup file for a piped message, and how many envelope lines it came with.

    The message's own X-Sender/X-Receiver lines at its top are removed before the
    command's are put above it: left in, they would add recipients or replace the sender.
    """
    message, removed = strip_envelope_lines(data)
    return envelope_lines(sender, recipients) + message, removed
