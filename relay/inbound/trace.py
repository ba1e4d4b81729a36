"""The Received: trace header (RFC 5321 4.4) each stored message gets at its top, as MTAs add
one: who handed the message over ("from" the client's HELO name and address, or the local
user of `relay deliver-inbound`), "by" this host, how, its queue id, and when.

Pure: the time, the names and the address are arguments. Trusts nothing the client said:
its HELO name is cut to 255 bytes and every character a header must not hold (controls,
spaces, parentheses, backslashes, non-ASCII) shown as "?". Folded at 78 columns as Postfix
folds it (a tab before "by", "with"/"id" and "for").
"""

from __future__ import annotations

import re
import socket
from email.utils import formatdate

SOFTWARE = "Pickup Relay"
_UNSAFE = re.compile(r"[^\x21-\x27\x2a-\x5b\x5d-\x7e]")   # printable ASCII but ( ) \


def this_host(configured: str = "") -> str:
    """The name this host gives itself: [inbound] hostname, else its fully qualified name."""
    return configured or socket.getfqdn() or "localhost"


def smtp_received(by: str, queue_id: str, *, helo: str | None, client_ip: str,
                  esmtp: bool, tls_version: str | None, recipients: list[str], now: float) -> bytes:
    """The Received: line of a message taken over SMTP by `relay receive`."""
    literal = f"IPv6:{client_ip}" if ":" in client_ip else client_ip
    protocol = ("ESMTPS" if tls_version else "ESMTP") if esmtp else ("SMTPS" if tls_version else "SMTP")
    lines = [f"Received: from {_safe(helo or 'unknown')} ([{literal}])"]
    if tls_version:
        lines.append(f"\t(using {_safe(tls_version)})")
    lines.append(f"\tby {by} ({SOFTWARE}) with {protocol} id {queue_id}")
    return _ended(lines, recipients, now)


def local_received(by: str, queue_id: str, *, uid: int, recipients: list[str], now: float) -> bytes:
    """The Received: line of a message handed to `relay deliver-inbound` by a local program."""
    return _ended([f"Received: by {by} ({SOFTWARE}, from userid {uid})", f"\tid {queue_id}"],
                  recipients, now)


def _ended(lines: list[str], recipients: list[str], now: float) -> bytes:
    date = formatdate(now, localtime=True)
    # One recipient is named, as Postfix does; of several none is (Bcc recipients stay private).
    if len(recipients) == 1:
        lines.append(f"\tfor <{recipients[0]}>; {date}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{date}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _safe(text: str) -> str:
    return _UNSAFE.sub("?", text[:255])
