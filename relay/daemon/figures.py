"""The relay's figures as delivery reports them: Prometheus metrics and the dashboard's activity.

RelayFigures implements relay.delivery.figures.Figures over one process's RelayMetrics
(relay.daemon.metrics; None when no metrics are served: nothing is counted for nobody)
and Activity (relay.queue.activity). prometheus_client's metrics and Activity take
their own locks, so worker threads call it freely.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from relay.delivery.fate import GONE, BadmailClass, Fate
from relay.queue.activity import Activity
from relay.queue.folders import BADMAIL, DEFERRED
from relay.smtp.failover import HostTried, NoHost
from relay.smtp.replies import DeliveryResult, Outcome
from relay.smtp.smarthosts import SmartHosts

if TYPE_CHECKING:
    from relay.daemon.metrics import RelayMetrics


class RelayFigures:
    def __init__(self, metrics: RelayMetrics | None, activity: Activity, hosts: SmartHosts):
        self.metrics, self.activity, self.hosts = metrics, activity, hosts
        self._children: dict[tuple[int, str], object] = {}
        self._shown: dict[int, float] = {}   # id(gauge) -> the value last set

    def _labelled(self, metric, value: str):
        """metric.labels(value), kept: labels() takes a lock and checks its arguments each call,
        several times a message."""
        key = (id(metric), value)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(value)
        return child

    def _set(self, gauge, value: float) -> None:
        """gauge.set(value) when it changed: a gauge set per message is a lock and, with several
        processes, a write to its file. (Two workers racing may leave the older value until
        the next message sets it again.)"""
        if self._shown.get(id(gauge)) != value:
            gauge.set(value)
            self._shown[id(gauge)] = value

    def sent(self, answer: DeliveryResult | NoHost, tried: list[HostTried], recipients: int) -> None:
        now = time.time()
        if self.metrics is not None:
            self._count_sent(self.metrics, answer, tried, recipients, now)
        if isinstance(answer, NoHost):
            self.activity.host_failed(now, answer.why)
            return
        self.activity.host_answered(now)
        if any(reply.outcome is not Outcome.SENT for reply in answer.replies):
            self.activity.refused(now, "; ".join(dict.fromkeys(str(r) for r in answer.replies)))

    def _count_sent(self, metrics: RelayMetrics, answer: DeliveryResult | NoHost,
                    tried: list[HostTried], recipients: int, now: float) -> None:
        for host in tried:
            self._set(self._labelled(metrics.host_up, host.host.label), 1 if host.answered else 0)
            if not host.answered:
                self._labelled(metrics.cooldowns, host.host.label).inc()
        metrics.duration.observe(answer.duration)
        # A host that answered is not cooling down: only a failure may have paused them all.
        answered = bool(tried) and tried[-1].answered
        self._set(metrics.smarthost_up, 1 if answered or not self.hosts.paused(now) else 0)
        if isinstance(answer, NoHost):
            self._labelled(metrics.replies, str(answer.code) if answer.code else "none").inc(recipients)
            return
        for reply in answer.replies:
            self._labelled(metrics.replies, str(reply.code) if reply.code else "none").inc()

    def moved(self, fate: Fate) -> None:
        if fate.destination == GONE:
            self.activity.delivered(time.time())
        metrics = self.metrics
        if metrics is None:
            return
        if fate.destination == DEFERRED:
            self._labelled(metrics.attempts, "deferred").inc()
        elif fate.destination == GONE:
            self._labelled(metrics.attempts, "sent").inc()
        elif fate.destination == BADMAIL:
            if fate.attempt is not None:
                self._labelled(metrics.attempts, "failed").inc()
            self._labelled(metrics.badmail, fate.badmail_class).inc()

    def unreadable(self) -> None:
        if self.metrics is not None:
            self._labelled(self.metrics.badmail, BadmailClass.UNREADABLE).inc()
