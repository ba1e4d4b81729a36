"""The relay's figures as delivery reports them: Prometheus metrics and the dashboard's activity.

RelayFigures implements relay.delivery.figures.Figures over one process's RelayMetrics
(relay.daemon.metrics) and Activity (relay.queue.activity). prometheus_client's
metrics and Activity take their own locks, so worker threads call it freely.
"""

from __future__ import annotations

import time

from relay.daemon.metrics import RelayMetrics
from relay.delivery.fate import GONE, BadmailClass, Fate
from relay.queue.activity import Activity
from relay.queue.folders import BADMAIL, DEFERRED
from relay.smtp.failover import HostTried, NoHost
from relay.smtp.replies import DeliveryResult, Outcome
from relay.smtp.smarthosts import SmartHosts


class RelayFigures:
    def __init__(self, metrics: RelayMetrics, activity: Activity, hosts: SmartHosts):
        self.metrics, self.activity, self.hosts = metrics, activity, hosts

    def sent(self, answer: DeliveryResult | NoHost, tried: list[HostTried], recipients: int) -> None:
        metrics = self.metrics
        for host in tried:
            metrics.host_up.labels(host.host.label).set(1 if host.answered else 0)
            if not host.answered:
                metrics.cooldowns.labels(host.host.label).inc()
        metrics.duration.observe(answer.duration)
        now = time.time()
        metrics.smarthost_up.set(0 if self.hosts.paused(now) else 1)
        if isinstance(answer, NoHost):
            metrics.replies.labels(str(answer.code) if answer.code else "none").inc(recipients)
            self.activity.host_failed(now, answer.why)
            return
        for reply in answer.replies:
            metrics.replies.labels(str(reply.code) if reply.code else "none").inc()
        self.activity.host_answered(now)
        if answer.replies_for(Outcome.DEFERRED) or answer.replies_for(Outcome.FAILED):
            self.activity.refused(now, "; ".join(dict.fromkeys(str(r) for r in answer.replies)))

    def moved(self, fate: Fate) -> None:
        if fate.destination == DEFERRED:
            self.metrics.attempts.labels("deferred").inc()
        elif fate.destination == GONE:
            self.activity.delivered(time.time())
            self.metrics.attempts.labels("sent").inc()
        elif fate.destination == BADMAIL:
            if fate.attempt is not None:
                self.metrics.attempts.labels("failed").inc()
            self.metrics.badmail.labels(fate.badmail_class).inc()

    def unreadable(self) -> None:
        self.metrics.badmail.labels(BadmailClass.UNREADABLE).inc()
