"""What becomes of a message after an attempt: the one place that decides it.

decide() takes what the attempt brought (each recipient's reply, or that the smart
host could not be reached), the message's history, the time and [relay]
retry_schedule / max_lifetime, and returns a Fate: where the message goes (gone,
deferred/, badmail/), when it is tried next, who is still owed it, who was refused
for good, and the reason a person reads. unsendable() does the same for a message
that never reaches SMTP (too big, malformed). Pure: no files, no clock, no network;
the daemon applies a Fate with the queue's moves, and nothing else decides.

The rules, as Postfix's qmgr has them: 2xx, that recipient is done. 5xx, refused for
good: recorded with its reply and time, and once nobody is left to try the message
goes to badmail with those recipients (so `relay requeue-badmail` sends to them
alone), even when the others were delivered. 4xx, no reply, a timeout: tried again
per retry_schedule (±10% jitter) until max_lifetime, counted from the first claim,
then badmail "expired". A host that could not be reached at all is no fault of the
message: it is due again as soon as the host answers, and not charged a retry step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from relay.delivery.retry import RetrySchedule
from relay.queue.folders import BADMAIL, DEFERRED, History, Refusal
from relay.smtp.client import DeliveryResult, Outcome
from settings import RelayConfig
from settings.units import format_duration

GONE = "gone"   # delivered to everyone still owed it; the other fates are queue folders



@dataclass(frozen=True)
class Fate:
    destination: str                    # GONE, DEFERRED or BADMAIL (queue folder names)
    recipients_left: tuple[str, ...]    # still owed the message (to try, or to requeue)
    refused: tuple[Refusal, ...] = ()   # refused for good by this attempt
    next_attempt: float | None = None   # DEFERRED: when (stored as the file's mtime)
    reason: str = ""                    # BADMAIL: the first line of the reason file
    charged: bool = True                # the attempt counts as a step of retry_schedule


def decide(result: DeliveryResult, history: History, now: float, relay: RelayConfig,
           rng: random.Random | None = None) -> Fate:
    """The fate of a message after one attempt whose outcome is `result`."""
    sent = result.replies_for(Outcome.SENT)
    later = result.replies_for(Outcome.DEFERRED)
    refused = tuple(Refusal(r.recipient, str(r), now) for r in result.replies_for(Outcome.FAILED))
    refused_ever = [*history.refused, *refused]
    if later:
        left = tuple(r.recipient for r in later)
        age = now - history.arrived
        if age >= relay.max_lifetime:
            owed = left + tuple(r.recipient for r in refused_ever)
            return Fate(BADMAIL, owed, refused, reason=(
                f"expired: still undelivered after [relay] max_lifetime ({format_duration(age)} "
                f"in the queue, {history.charged_attempts() + 1} attempts); last reply: {later[0]}"),
                charged=not result.host_unavailable)
        if result.host_unavailable:
            return Fate(DEFERRED, left, refused, next_attempt=now, charged=False)
        step = RetrySchedule(relay.retry_schedule).delay(history.charged_attempts() + 1, rng)
        return Fate(DEFERRED, left, refused, next_attempt=now + step)
    if refused_ever:
        delivered = f"; delivered to the other {len(sent)}" if sent else ""
        return Fate(BADMAIL, tuple(r.recipient for r in refused_ever), refused, reason=(
            f"refused by the smart host for {len(refused_ever)} recipient"
            f"{'s' if len(refused_ever) != 1 else ''}{delivered}: "
            + "; ".join(f"<{r.recipient}>: {r.reply}" for r in refused_ever)))
    return Fate(GONE, ())


def unsendable(why: str, recipients: tuple[str, ...] | list[str]) -> Fate:
    """A message that can never be sent as it is (too big, not a message): badmail, untried."""
    return Fate(BADMAIL, tuple(recipients), reason=why, charged=False)
