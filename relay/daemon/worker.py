"""A worker thread: one SMTP connection per smart host, and the loop that feeds them.

Each of [relay] connections workers takes the most urgent message the dispatcher chose
from the WorkQueue, claims it (`claim`: the dispatcher's, which knows what to do with a
file it will not read; None when another relay took it first), hands it to the
DeliveryAgent with its own connections, and tells the WorkQueue when it is done. Over
one smart host that pipelines, it prepares the next waiting message (if one waits)
before sending the current one, whose content then carries the next one's MAIL, RCPT
and DATA: one round trip a message instead of two. (A message prepared ahead is sent
next even if more urgent mail arrived meanwhile: one message per connection, at most.)
With a rate limit it takes the host's token first and the message after, so whoever
waits longest for a token still gets the most urgent message. An error nobody foresaw
gives the message back untried (logged with its traceback); the worker carries on. An
idle worker closes its connections (servers drop idle clients anyway).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from relay.daemon.workqueue import Candidate, WorkQueue
from relay.delivery.agent import DeliveryAgent, Ready
from relay.queue.claims import Claimed
from relay.smtp.client import SmtpConnection
from relay.smtp.smarthosts import SmartHost, SmartHosts

log = logging.getLogger("relay")

IDLE_CLOSE = 5.0         # close a worker's connection after this long without work


class Worker(threading.Thread):
    def __init__(self, number: int, work: WorkQueue, claim: Callable[[Candidate], Claimed | None],
                 agent: DeliveryAgent, hosts: SmartHosts):
        super().__init__(name=f"relay-worker-{number}", daemon=True)
        self.work, self.claim, self.agent, self.hosts = work, claim, agent, hosts
        self.connections = {h.label: SmtpConnection(h.config) for h in hosts.hosts}

    def abort(self) -> None:
        """Cut every connection from another thread (a stop that cannot wait any longer)."""
        for connection in self.connections.values():
            connection.abort()

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()

    def run(self) -> None:
        ahead: Ready | None = None   # prepared while the last message was sent, sent next
        try:
            while not self.work.stopping.is_set():
                if ahead is not None:
                    ready, paid, ahead = ahead, None, None
                    if self.hosts.paused(time.time()):   # the last one found every host down
                        self.agent.exit.give_back(ready.claimed, "every smart host is cooling down")
                        self.work.done()
                        continue
                else:
                    candidate, paid = self._next_message()
                    if candidate is None:
                        self.close()  # idle: servers drop idle clients anyway
                        continue
                    ready = self._prepare(candidate, paid)
                    if ready is None:
                        continue
                ahead = self._look_ahead()
                try:
                    self.agent.send(self.connections, ready, paid, ahead)
                except Exception:
                    log.exception("%s: unexpected error; message kept for another attempt",
                                  ready.claimed.queue_id)
                    self.agent.exit.give_back(ready.claimed, "an unexpected error")
                finally:
                    self.work.done()
        finally:
            if ahead is not None:   # prepared, never sent: as if it had waited in the line
                self.agent.exit.give_back(ahead.claimed, "the relay is stopping")
                self.work.done()
            self.close()

    def _prepare(self, candidate: Candidate, paid: SmartHost | None) -> Ready | None:
        """Claim and prepare a message; None (and done()) when there is nothing to send: another
        relay took it first, it went to badmail, or its fate was decided before sending."""
        try:
            claimed = self.claim(candidate)
        except Exception:
            log.exception("%s/%s: unexpected error claiming it; left where it is",
                          candidate.folder, candidate.name)
            claimed = None
        ready = None
        if claimed is not None:
            try:
                prepared = self.agent.prepare(claimed)
                ready = prepared if isinstance(prepared, Ready) else None
            except Exception:
                log.exception("%s: unexpected error; message kept for another attempt",
                              claimed.queue_id)
                self.agent.exit.give_back(claimed, "an unexpected error")
        if ready is None:
            if paid is not None and paid.limiter is not None:
                paid.limiter.refund()
            self.work.done()
        return ready

    def _look_ahead(self) -> Ready | None:
        """The message to send next, prepared now so that its commands can follow this one's
        content: only over one smart host without a rate limit, on a connection that
        pipelines, and only if one is waiting (never waits for it)."""
        if len(self.hosts.hosts) != 1 or self.hosts.limited:
            return None
        if not self.connections[self.hosts.hosts[0].label].pipelines:
            return None
        candidate = self.work.take(0.0)
        return self._prepare(candidate, None) if candidate is not None else None

    def _next_message(self) -> tuple[Candidate | None, SmartHost | None]:
        """The next message, and the host whose rate-limit token was taken for it, if any."""
        if not self.hosts.limited:
            return self.work.take(IDLE_CLOSE), None
        # With a rate limit, take the token first and the message after: whoever
        # waits longest for a token then still gets the most urgent message.
        if not self.work.wait(IDLE_CLOSE):
            return None, None
        order = self.hosts.order(time.time())
        host = order[0] if order else None
        limiter = host.limiter if host is not None else None
        if limiter is not None and not limiter.acquire(self.work.stopping):
            return None, None
        candidate = self.work.take(0.0)
        if candidate is None and limiter is not None:
            limiter.refund()
        return candidate, host
