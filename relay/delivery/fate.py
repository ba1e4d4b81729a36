"""What becomes of a claimed message: the one place that decides it, for every way out of a claim.

decide() takes what happened to the message (an Event below), its history, the time and
the RetryPolicy ([relay] retry_schedule and max_lifetime, built once), and returns a
Fate: where the message goes (gone, deferred/, badmail/, or back to deferred/ untried),
when it is tried next, who is still owed it, who was refused for good, the attempt to
record, the reason a person reads and the badmail class the metrics count. Pure: no
files, no clock, no network; relay.delivery.exit carries a Fate out, and nothing else
moves a claimed message.

The events, nullmailer's success/tempfail/permfail and what comes before them:
- a DeliveryResult: a smart host answered, per recipient. 2xx, that recipient is done.
  5xx, refused for good: recorded with its reply and time, and once nobody is left to
  try the message goes to badmail with those recipients (so `relay requeue-badmail`
  sends to them alone), even when the others were delivered. 4xx, no reply, a timeout:
  tried again per retry_schedule (±10% jitter) until max_lifetime, counted from the
  first claim, then badmail "expired".
- NoHost (relay.smtp.failover): no smart host could be used (refused, timed out, 421 greeting, TLS or login
  failure, every host cooling down, or the relay stopping). No fault of the message:
  due again as soon as a host answers, not charged a retry step; expired all the same.
- NotSent: the message could not be made ready to send (its DKIM signature failed):
  a charged retry, as a 4xx; never sent unsigned.
- Unsendable: it can never be sent as it is (too big, not a message, a file cut short):
  badmail, untried.
- Untried: given back before any attempt (still being written, the hosts paused, the
  relay stopping, no space to record the outcome, an unexpected error): back to
  deferred/, due after the event's delay, its history untouched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from relay.delivery.retry import RetrySchedule
from relay.queue.folders import BADMAIL, DEFERRED
from relay.queue.history import Attempt, History, Refusal
from relay.smtp.failover import NoHost
from relay.smtp.replies import DeliveryResult, Outcome, RecipientReply
from settings import RelayConfig
from settings.units import format_duration

GONE = "gone"            # delivered to everyone still owed it
UNTRIED = "untried"      # back to deferred/ as it was: no attempt recorded
# The other destinations are queue folders: DEFERRED, BADMAIL.


class BadmailClass(StrEnum):
    """Why a message is in badmail, as relay_badmail_total{reason=...} counts it."""
    REFUSED = "refused"
    EXPIRED = "expired"
    TOO_BIG = "too_big"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"      # its structure shows its end is missing (spooler.truncation)
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class NotSent:
    """The message could not be made ready to send (a DKIM signing failure)."""
    why: str


@dataclass(frozen=True)
class Unsendable:
    """The message can never be sent as it is."""
    why: str
    kind: BadmailClass           # TOO_BIG, MALFORMED or TRUNCATED


@dataclass(frozen=True)
class Untried:
    """Given back before any attempt, to be tried again `retry_in` seconds from now."""
    why: str
    retry_in: float = 0.0


Event = DeliveryResult | NoHost | NotSent | Unsendable | Untried


@dataclass(frozen=True)
class RetryPolicy:
    """[relay] retry_schedule and max_lifetime, built once per relay."""
    schedule: RetrySchedule
    max_lifetime: float

    @classmethod
    def from_config(cls, relay: RelayConfig) -> RetryPolicy:
        return cls(RetrySchedule(relay.retry_schedule), relay.max_lifetime)


@dataclass(frozen=True)
class Fate:
    destination: str                    # GONE, DEFERRED, BADMAIL or UNTRIED
    recipients_left: tuple[str, ...]    # still owed the message (to try, or to requeue)
    refused: tuple[Refusal, ...] = ()   # refused for good by this attempt
    next_attempt: float | None = None   # DEFERRED, UNTRIED: when (stored as the file's mtime)
    reason: str = ""                    # BADMAIL: the first line of the reason file; UNTRIED: why
    charged: bool = True                # the attempt counts as a step of retry_schedule
    attempt: Attempt | None = None      # what to add to the history (None: nothing was tried)
    badmail_class: BadmailClass | None = None


def decide(event: Event, history: History, now: float, policy: RetryPolicy,
           recipients: tuple[str, ...] | list[str] = (), rng: random.Random | None = None) -> Fate:
    """The fate of a message after `event`. `recipients`: those the attempt was for."""
    if isinstance(event, Untried):
        return Fate(UNTRIED, tuple(recipients), next_attempt=now + event.retry_in,
                    reason=event.why, charged=False)
    if isinstance(event, Unsendable):
        return Fate(BADMAIL, tuple(recipients), reason=event.why, charged=False,
                    badmail_class=event.kind)
    if isinstance(event, DeliveryResult):
        return _answered(event, tuple(recipients), history, now, policy, rng)
    if isinstance(event, NotSent):   # charged, as a 4xx: the message's own trouble
        attempt = Attempt(now, None, event.why, list(recipients))
    else:                            # NoHost: the hosts' trouble, not the message's
        attempt = Attempt(now, event.code, event.why, list(recipients), charged=False)
    return _later(tuple(recipients), (), history, now, policy, attempt, event.why, rng)


def _answered(result: DeliveryResult, recipients: tuple[str, ...], history: History, now: float,
              policy: RetryPolicy, rng: random.Random | None) -> Fate:
    sent: list[RecipientReply] = []
    later: list[RecipientReply] = []
    failed: list[RecipientReply] = []
    for reply in result.replies:   # one pass, no dict keyed by an Enum: this runs for every message sent
        outcome = reply.outcome
        (sent if outcome is Outcome.SENT else later if outcome is Outcome.DEFERRED else failed).append(reply)
    refused = tuple(Refusal(r.recipient, str(r), now) for r in failed)
    deciding = (later or failed or sent or [None])[0]
    attempt = Attempt(now, deciding.code if deciding else None, _summary(result), list(recipients))
    if later:
        return _later(tuple(r.recipient for r in later), refused, history, now, policy, attempt,
                      str(later[0]), rng)
    refused_ever = [*history.refused, *refused]
    if refused_ever:
        delivered = f"; delivered to the other {len(sent)}" if sent else ""
        return Fate(BADMAIL, tuple(r.recipient for r in refused_ever), refused, attempt=attempt,
                    badmail_class=BadmailClass.REFUSED, reason=(
                        f"refused by the smart host for {len(refused_ever)} recipient"
                        f"{'s' if len(refused_ever) != 1 else ''}{delivered}: "
                        + "; ".join(f"<{r.recipient}>: {r.reply}" for r in refused_ever)))
    return Fate(GONE, (), attempt=attempt)


def _later(left: tuple[str, ...], refused: tuple[Refusal, ...], history: History, now: float,
           policy: RetryPolicy, attempt: Attempt, last_reply: str,
           rng: random.Random | None) -> Fate:
    """Still owed to `left`: deferred (a retry step when charged, due now when not), or
    expired into badmail with everyone still owed it."""
    age = now - history.arrived
    if age >= policy.max_lifetime:
        owed = left + tuple(r.recipient for r in [*history.refused, *refused])
        return Fate(BADMAIL, owed, refused, attempt=attempt, charged=attempt.charged,
                    badmail_class=BadmailClass.EXPIRED, reason=(
                        f"expired: still undelivered after [relay] max_lifetime "
                        f"({format_duration(age)} in the queue, {history.charged_attempts() + 1} "
                        f"attempts); last reply: {last_reply}"))
    if not attempt.charged:
        return Fate(DEFERRED, left, refused, next_attempt=now, charged=False, attempt=attempt)
    step = policy.schedule.delay(history.charged_attempts() + 1, rng)
    return Fate(DEFERRED, left, refused, next_attempt=now + step, attempt=attempt)


def _summary(result: DeliveryResult) -> str:
    """Every distinct reply of the attempt, in one line."""
    if len(result.replies) == 1:   # one recipient, most mail
        return str(result.replies[0])
    return "; ".join(dict.fromkeys(str(r) for r in result.replies))
