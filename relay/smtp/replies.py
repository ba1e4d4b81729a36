"""What a smart host said, per recipient: the one mapping from a reply to sent, deferred or failed.

classify() maps an SMTP reply code (or no reply at all) to an Outcome, nullmailer's
success / tempfail / permfail; a RecipientReply is one recipient's reply; a
DeliveryResult is every recipient's reply to one send, and whether the host could
be used at all. relay.delivery.fate reads these to decide a message's fate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Outcome(enum.Enum):
    SENT = "sent"            # the server took responsibility
    DEFERRED = "deferred"    # temporary: try again later
    FAILED = "failed"        # permanent: never try again


def classify(code: int | None, *, setup: bool = False) -> Outcome:
    """The one mapping from an SMTP reply code (None: no reply at all) to an outcome.

    A failure while setting up the connection (greeting, EHLO, TLS, AUTH) is about
    this relay or the host, never about the message: always try again later.
    """
    if setup or code is None or 400 <= code < 500:
        return Outcome.DEFERRED
    if code >= 500:
        return Outcome.FAILED
    return Outcome.SENT


@dataclass
class RecipientReply:
    recipient: str
    code: int | None
    text: str
    setup: bool = False   # the reply came while setting up the connection, before MAIL FROM

    @property
    def outcome(self) -> Outcome:
        return classify(self.code, setup=self.setup)

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.code is not None else self.text


@dataclass
class DeliveryResult:
    replies: list[RecipientReply] = field(default_factory=list)
    duration: float = 0.0
    host_unavailable: bool = False   # the connection itself failed: the host is down or refusing
    relay: str = ""                  # host:port of the smart host that gave these replies

    def recipients(self, outcome: Outcome) -> list[str]:
        return [r.recipient for r in self.replies if r.outcome is outcome]

    def replies_for(self, outcome: Outcome) -> list[RecipientReply]:
        return [r for r in self.replies if r.outcome is outcome]
