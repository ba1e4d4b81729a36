"""What the queue remembers of a message between attempts: meta/ID.json.

History holds when the relay first claimed the message, the pickup name it came in as,
who is still owed it once some recipients are done, every Attempt (time, reply, charged
to the retry schedule or not) and every Refusal (a recipient refused for good). Written
by the queue's moves (relay.queue.moves), read by `relay list/show`, the dashboard's
status and relay.delivery.fate. A damaged file reads as no history (attempts restart
at 0): it must never stop delivery.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field


@dataclass
class Attempt:
    at: float
    code: int | None        # SMTP reply code; None when no reply came (refused, timeout)
    reply: str
    recipients: list[str]
    charged: bool = True    # counts as a retry step (not when the host could not be reached)


@dataclass(frozen=True)
class Refusal:
    """A recipient the smart host refused for good (5xx), with its reply and when."""
    recipient: str
    reply: str
    at: float


@dataclass
class History:
    """What the queue remembers of a message between attempts (meta/ID.json)."""
    arrived: float                                     # when the relay first claimed it
    source: str = ""                                   # the pickup file name it came in as
    recipients_left: list[str] | None = None           # set once some recipients are done
    attempts: list[Attempt] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def charged_attempts(self) -> int:
        return sum(1 for a in self.attempts if a.charged)

    def to_json(self) -> str:
        return json.dumps({
            "arrived": self.arrived, "source": self.source,
            "recipients_left": self.recipients_left,
            "attempts": [a.__dict__ for a in self.attempts],
            "refused": [r.__dict__ for r in self.refused],
        })

    @classmethod
    def from_json(cls, text: str | bytes) -> History:
        data = json.loads(text)
        return cls(arrived=data["arrived"], source=data.get("source", ""),
                   recipients_left=data.get("recipients_left"),
                   attempts=[Attempt(**a) for a in data.get("attempts", [])],
                   refused=[Refusal(**r) for r in data.get("refused", [])])



def iso_time(ts: float) -> str:
    """A local timestamp as people read it in reason files and logs."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(ts))
