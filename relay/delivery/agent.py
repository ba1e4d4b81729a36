"""One attempt at a claimed message, from reading its file to its exit: the delivery agent.

attempt() reads the claimed file (at most [relay] max_message_size + 1 bytes), gives it
back untried when its writer is still at it (its size changed since the claim), parses
it (relay.queue knows no mail format: spooler.envelope does; a file that is no message,
or looks cut short, goes to badmail untried), DKIM-signs it when
[relay.dkim] asks (relay.delivery.signing; a failure is NotSent: deferred, never sent
unsigned), sends it across the smart hosts (relay.smtp.failover), asks
relay.delivery.fate what becomes of it, logs one line per outcome and hands the Fate to
relay.delivery.exit. attempt() is prepare() (read, check, parse, sign: a Ready message,
or a fate already carried out) then send(): a worker prepares the message it sends next
while this one is in flight, so its commands can go out behind this one's final dot.
The workers (relay.daemon.worker) are handed this object and each owns its SMTP
connections; nothing here is shared between attempts but the counters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from relay.delivery.exit import Exit
from relay.delivery.fate import GONE, BadmailClass, Fate, NotSent, Unsendable, Untried, decide
from relay.delivery.signing import DkimSigner, SigningFailed
from relay.queue.claims import Claimed
from relay.queue.history import History
from relay.smtp.client import SmtpConnection
from relay.smtp.failover import NoHost, send
from relay.smtp.replies import DeliveryResult, Outcome
from relay.smtp.smarthosts import SmartHost, SmartHosts
from settings import RelayConfig
from spooler.envelope import MalformedMessage, ParsedMessage, TruncatedMessage, parse_pickup
from spooler.names import printable

log = logging.getLogger("relay")


@dataclass(frozen=True)
class Ready:
    """A claimed message read, parsed and signed: what an attempt sends."""
    claimed: Claimed
    history: History
    message: ParsedMessage
    recipients: list[str]


class DeliveryAgent:
    def __init__(self, relay: RelayConfig, hosts: SmartHosts, signer: DkimSigner | None, exit_: Exit, *,
                 settle: float, stopping: threading.Event, on_host_down: Callable[[], None]):
        self.relay, self.hosts, self.signer, self.exit = relay, hosts, signer, exit_
        self.policy, self.figures = exit_.policy, exit_.figures   # the same as the exit's
        self.settle = settle              # how long a file must stand still (relay.daemon.watch)
        self.stopping = stopping          # set when the relay stops: a rate limit stops waiting
        self.on_host_down = on_host_down  # the dispatcher puts back what waits for a connection

    def attempt(self, connections: dict[str, SmtpConnection], claimed: Claimed,
                paid: SmartHost | None = None) -> Fate:
        """Try one claimed message once and carry out its fate; returns it.

        `connections`: the worker's, one per host label; `paid`: the host whose rate-limit
        token the worker already took (tried first if it is still up)."""
        ready = self.prepare(claimed)
        return ready if isinstance(ready, Fate) else self.send(connections, ready, paid)

    def prepare(self, claimed: Claimed) -> Ready | Fate:
        """Read, check, parse and sign a claimed message: Ready to send, or the fate already
        carried out of one that cannot be sent now (still being written, too big, not a
        message, its signature failed)."""
        data = claimed.read(self.relay.max_message_size)
        history = claimed.history or History(claimed.arrived, claimed.source)
        if (size := claimed.size_now()) != claimed.size:
            # A writer still holds the inode (the claim of the relay's own file is a hard
            # link): not an attempt; due again once the file may be complete.
            log.warning("%s: pickup file %r went from %d to %d bytes after it was claimed: still "
                        "being written; put back, tried again in %gs (no attempt counted)",
                        claimed.queue_id, printable(claimed.source), claimed.size, size, self.settle)
            return self._leave(claimed, history, Untried("still being written", self.settle))
        owed = history.recipients_left or ()
        if len(data) > self.relay.max_message_size:
            return self._leave(claimed, history, Unsendable(
                f"too big: over the {self.relay.max_message_size:,}-byte limit ([relay] "
                "max_message_size)", BadmailClass.TOO_BIG), owed)
        try:
            message = parse_pickup(data)
        except TruncatedMessage as e:   # a copy cut short: what arrived must not go out as mail
            return self._leave(claimed, history, Unsendable(str(e), BadmailClass.TRUNCATED), owed)
        except MalformedMessage as e:
            return self._leave(claimed, history, Unsendable(
                f"not a message that can be sent: {e}", BadmailClass.MALFORMED), owed)
        recipients = history.recipients_left or list(message.recipients)
        if self.signer:
            try:
                signed = self.signer.sign(message)
            except SigningFailed as e:   # nothing goes on the network
                return self._end(claimed, history, message, recipients, NotSent(f"not sent: {e}"),
                                 time.time())
            if signed.domain is None and not history.attempts:   # said once per message
                log.info("%s: sent without a DKIM signature: %s", claimed.queue_id, signed.unsigned)
            message = signed.message
        return Ready(claimed, history, message, recipients)

    def send(self, connections: dict[str, SmtpConnection], ready: Ready, paid: SmartHost | None = None,
             ahead: Ready | None = None) -> Fate:
        """Send a Ready message across the smart hosts and carry out its fate; returns it.
        `ahead`: the message this worker sends next (relay.smtp.failover.send)."""
        now = time.time()
        answer, tried = send(self.hosts, connections, ready.message, ready.recipients, paid=paid,
                             stopping=self.stopping,
                             ahead=(ahead.message, ahead.recipients) if ahead is not None else None)
        self.figures.sent(answer, tried, len(ready.recipients))
        if isinstance(answer, NoHost):
            self.on_host_down()
        return self._end(ready.claimed, ready.history, ready.message, ready.recipients, answer, now)

    def _end(self, claimed: Claimed, history: History, message: ParsedMessage, recipients: list[str],
             event: DeliveryResult | NoHost | NotSent, now: float) -> Fate:
        """Decide, log and carry out the fate of an attempt."""
        fate = decide(event, history, now, self.policy, recipients)
        if isinstance(event, DeliveryResult):
            if fate.destination != GONE or log.isEnabledFor(logging.INFO):   # else no line is due
                _log_replies(claimed, message.sender, event, len(history.attempts) + 1)
        else:
            _log_not_sent(claimed, message.sender, event, recipients, len(history.attempts) + 1,
                          ",".join(h.label for h in self.hosts.hosts))
        return self.exit.leave(claimed, history, fate, message,
                               event if isinstance(event, DeliveryResult) else None)

    def _leave(self, claimed: Claimed, history: History, event: Untried | Unsendable,
               recipients: tuple[str, ...] | list[str] = ()) -> Fate:
        return self.exit.leave(claimed, history, decide(event, history, time.time(), self.policy,
                                                        recipients))


def _log_replies(claimed: Claimed, sender: str, result: DeliveryResult, attempt: int) -> None:
    """One line per outcome of the attempt: who got it, who is deferred, who was refused."""
    for outcome, status, level in ((Outcome.SENT, "sent", logging.INFO),
                                   (Outcome.DEFERRED, "deferred", logging.WARNING),
                                   (Outcome.FAILED, "bounced", logging.WARNING)):
        if not log.isEnabledFor(level):   # log_level warning: no work for the sent line
            continue
        replies = result.replies_for(outcome)
        if replies:
            rcpts = ",".join(f"<{r.recipient}>" for r in replies)
            log.log(level, "%s: from=<%s> to=%s relay=%s attempt=%d duration=%.3fs "
                    "status=%s (%s)", claimed.queue_id, sender, rcpts, result.relay,
                    attempt, result.duration, status, replies[0])


def _log_not_sent(claimed: Claimed, sender: str, event: NoHost | NotSent, recipients: list[str],
                  attempt: int, hosts: str) -> None:
    """The attempt's line when nothing reached a smart host: deferred, and why."""
    rcpts = ",".join(f"<{r}>" for r in recipients)
    duration = event.duration if isinstance(event, NoHost) else 0.0
    log.warning("%s: from=<%s> to=%s relay=%s attempt=%d duration=%.3fs status=deferred (%s)",
                claimed.queue_id, sender, rcpts, hosts, attempt, duration, event.why)
