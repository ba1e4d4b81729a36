"""Prometheus metrics of one relay, served on [relay] metrics_listen ("127.0.0.1:9465"; empty = off).

Counters move as the daemon works (attempt outcomes, reply codes, retries,
badmail by reason class, a delivery-duration histogram; per smart host
(label host="host:port") whether it is up and how often it cooled down;
relay_smarthost_up is 1 while at least one host may be tried); queue depth and the
oldest message's age per folder are read from the folders at scrape time, so
they are true even for what another relay did. Each Relay has its own registry.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from relay.admin.listing import STATUS_FOLDERS, folder_totals
from relay.queue.folders import Queue


class RelayMetrics:
    def __init__(self, queue: Queue, hosts: list[str] | tuple[str, ...] = ()):
        self.registry = CollectorRegistry()
        r = self.registry
        self.attempts = Counter("relay_attempts", "Delivery attempts by outcome",
                                ["outcome"], registry=r)
        self.replies = Counter("relay_smtp_replies", "Final SMTP reply codes seen, per recipient",
                               ["code"], registry=r)
        self.badmail = Counter("relay_badmail", "Messages moved to badmail, by reason class",
                               ["reason"], registry=r)
        self.retried = Counter("relay_retried", "Deferred messages taken for another attempt",
                               registry=r)
        self.duration = Histogram("relay_delivery_duration_seconds", "Time of one SMTP delivery",
                                  buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30),
                                  registry=r)
        self.smarthost_up = Gauge("relay_smarthost_up", "1 when the smart host answers, 0 when down",
                                  registry=r, multiprocess_mode="min")
        self.smarthost_up.set(1)
        self.host_up = Gauge("relay_smarthost_host_up", "Per smart host (host:port): 1 when it "
                             "answers, 0 while it cools down", ["host"], registry=r,
                             multiprocess_mode="min")
        self.cooldowns = Counter("relay_smarthost_cooldowns", "Times a smart host could not be "
                                 "used and was skipped for a cool-down", ["host"], registry=r)
        for host in hosts:
            self.host_up.labels(host).set(1)
            self.cooldowns.labels(host)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # else the supervisor serves folders
            r.register(FolderCollector(queue))
        self._server = None
        self._thread = None

    def serve(self, listen: str) -> tuple[str, int]:
        """Start the HTTP endpoint on "host:port" (port 0: any free port); returns the address."""
        host, _, port = listen.rpartition(":")
        self._server, self._thread = start_http_server(int(port), host or "127.0.0.1",
                                                       registry=self.registry)
        return self._server.server_address[:2]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


class FolderCollector:
    def __init__(self, queue: Queue, hosts: list[str] | tuple[str, ...] = ()):
        self.queue = queue

    def collect(self):
        now = time.time()
        count = GaugeMetricFamily("relay_queue_messages", "Messages per folder", labels=["folder"])
        size = GaugeMetricFamily("relay_queue_bytes", "Bytes per folder", labels=["folder"])
        age = GaugeMetricFamily("relay_queue_oldest_age_seconds",
                                "Age of the oldest message per folder (0 when empty)",
                                labels=["folder"])
        for folder in STATUS_FOLDERS:
            totals = folder_totals(self.queue, folder, now)
            count.add_metric([folder], totals.count)
            size.add_metric([folder], totals.bytes)
            age.add_metric([folder], totals.oldest_age or 0.0)
        yield from (count, size, age)
