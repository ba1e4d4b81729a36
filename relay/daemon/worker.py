"""A worker thread: one SMTP connection per smart host, and the loop that feeds them.

Each of [relay] connections workers takes the most urgent claimed message from the
WorkQueue, hands it to the DeliveryAgent with its own connections, and tells the
WorkQueue when it is done. With a rate limit it takes the host's token first and the
message after, so whoever waits longest for a token still gets the most urgent
message. An error nobody foresaw gives the message back untried (logged with its
traceback); the worker carries on. An idle worker closes its connections (servers
drop idle clients anyway).
"""

from __future__ import annotations

import logging
import threading
import time

from relay.daemon.workqueue import WorkQueue
from relay.delivery.agent import DeliveryAgent
from relay.queue.claims import Claimed
from relay.smtp.client import SmtpConnection
from relay.smtp.smarthosts import SmartHost, SmartHosts

log = logging.getLogger("relay")

IDLE_CLOSE = 5.0         # close a worker's connection after this long without work


class Worker(threading.Thread):
    def __init__(self, number: int, work: WorkQueue, agent: DeliveryAgent, hosts: SmartHosts):
        super().__init__(name=f"relay-worker-{number}", daemon=True)
        self.work, self.agent, self.hosts = work, agent, hosts
        self.connections = {h.label: SmtpConnection(h.config) for h in hosts.hosts}

    def abort(self) -> None:
        """Cut every connection from another thread (a stop that cannot wait any longer)."""
        for connection in self.connections.values():
            connection.abort()

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()

    def run(self) -> None:
        try:
            while not self.work.stopping.is_set():
                claimed, paid = self._next_message()
                if claimed is None:
                    self.close()  # idle: servers drop idle clients anyway
                    continue
                try:
                    self.agent.attempt(self.connections, claimed, paid)
                except Exception:
                    log.exception("%s: unexpected error; message kept for another attempt",
                                  claimed.queue_id)
                    self.agent.exit.give_back(claimed, "an unexpected error")
                finally:
                    self.work.done()
        finally:
            self.close()

    def _next_message(self) -> tuple[Claimed | None, SmartHost | None]:
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
        claimed = self.work.take(0.0)
        if claimed is None and limiter is not None:
            limiter.refund()
        return claimed, host
