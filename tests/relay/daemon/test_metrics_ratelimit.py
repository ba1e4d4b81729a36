"""What a monitor sees on /metrics, the smart host rate limit, and the badmail retention sweep."""

from __future__ import annotations

import os
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.ports import free_port
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    place_queued,
    relay_config,
    wait_until,
)
from tests.smtp_servers import FaultyServer


def metric(relay, name: str, **labels: str) -> float | None:
    """One sample scraped over HTTP from the relay's /metrics; None if it is not there (yet)."""
    host, port = relay.metrics_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def test_counters_follow_deliveries_replies_and_badmail_and_gauges_count_the_folders(tmp_path, upstream):
    upstream.faults.data_delay = 0.05  # slow enough that mail visibly waits in pickup
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    config = relay_config(tmp_path, upstream.port, metrics_listen="127.0.0.1:0", connections=2)
    for n in range(30):
        drop_notification(config, n)
    with RunningRelay(config) as relay:
        assert relay.metrics_address[1] != 0  # port 0 asked for any free port: the bound one is kept
        waiting = metric(relay, "relay_queue_messages", folder="pickup")
        assert 10 <= waiting <= 30, waiting  # 2 connections at 50 ms a message: most still wait
        assert metric(relay, "relay_queue_oldest_age_seconds", folder="pickup") > 0
        wait_until(lambda: (metric(relay, "relay_attempts_total", outcome="sent") or 0) >= 1,
                   what="the first delivery")
        assert metric(relay, "relay_attempts_total", outcome="sent") < 30  # counted as they go
        wait_until(lambda: metric(relay, "relay_attempts_total", outcome="sent") == 30, what="all 30")
        drop_notification(config, 99, to=["gone@example.test"])
        wait_until(lambda: metric(relay, "relay_badmail_total", reason="refused") == 1, what="badmail")
        assert metric(relay, "relay_queue_messages", folder="pickup") == 0
        assert metric(relay, "relay_queue_messages", folder="badmail") == 1
        assert metric(relay, "relay_queue_bytes", folder="badmail") > 0
        assert metric(relay, "relay_smtp_replies_total", code="250") == 30
        assert metric(relay, "relay_smtp_replies_total", code="550") == 1
        assert metric(relay, "relay_attempts_total", outcome="failed") == 1
        assert metric(relay, "relay_delivery_duration_seconds_count") == 31
        assert metric(relay, "relay_smarthost_up") == 1
        address = relay.metrics_address
    with pytest.raises(OSError):  # the endpoint stops with the relay
        urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=2)


def test_smarthost_up_is_0_while_the_host_is_down_and_1_once_it_answers(tmp_path):
    port = free_port()  # nothing listens yet: connection refused
    config = relay_config(tmp_path, port, metrics_listen="127.0.0.1:0", connections=2)
    with RunningRelay(config) as relay:
        for n in range(6):
            drop_notification(config, n)
        wait_until(lambda: metric(relay, "relay_smarthost_up") == 0, what="the host seen down")
        # Paused, not spinning: at most one attempt per connection was made, and the rest wait
        # (in pickup, or given back to deferred/ untried: how many the dispatcher had claimed
        # before the first refusal is a race with the drops).
        assert 1 <= metric(relay, "relay_attempts_total", outcome="deferred") <= 2
        wait_until(lambda: sum(metric(relay, "relay_queue_messages", folder=f)
                               for f in ("pickup", "deferred")) == 6, what="all six waiting")
        with FaultyServer(port=port) as server:
            wait_until(lambda: len(server.received) == 6, timeout=20, what="all six")
            wait_until(lambda: metric(relay, "relay_smarthost_up") == 1, what="the host seen up")
        assert metric(relay, "relay_queue_messages", folder="deferred") == 0


def timed(server: FaultyServer) -> list[float]:
    """The moments (monotonic seconds) at which the server takes each message, in order."""
    times, inner = [], server.handler.handle_DATA

    async def handle_DATA(smtp, session, envelope):
        reply = await inner(smtp, session, envelope)
        times.append(time.monotonic())
        return reply
    server.handler.handle_DATA = handle_DATA  # looked up per connection: set before the first
    return times


def test_rate_limit_of_10_a_second_holds_within_20_percent_over_100_messages(tmp_path, upstream):
    times = timed(upstream)
    config = relay_config(tmp_path, upstream.port, connections=4, smarthost={"rate_limit": "10/s"})
    for n in range(100):
        drop_notification(config, n)
    with RunningRelay(config):
        wait_until(lambda: len(times) == 100, timeout=30, what="100 deliveries")
    # The bucket starts full: the first 10 go at once, then one each 0.1 s.
    assert times[9] - times[0] < 0.5
    rate = (len(times) - 11) / (times[-1] - times[10])
    assert 8 <= rate <= 12, f"{rate:.2f} messages a second"
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= 21  # burst + rate


def test_badmail_older_than_badmail_max_age_is_removed_with_its_reason_at_start(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port, badmail_max_age="10s")
    badmail = config.relay.queue_dir / "badmail"
    old = place_queued(config, "badmail")
    hour_ago = time.time() - 3600
    os.utime(badmail / f"{old}.bdr", (hour_ago, hour_ago))  # moved to badmail an hour ago
    fresh = place_queued(config, "badmail", age=3600)  # an old message, but moved there just now
    os.utime(badmail / f"{fresh}.eml", (hour_ago, hour_ago))
    with RunningRelay(config):
        wait_until(lambda: not (badmail / f"{old}.bdr").exists(), what="the sweep")
    assert not (badmail / f"{old}.eml").exists()
    assert [p.name for p in files(badmail, f"{fresh}.*")] == [f"{fresh}.bdr", f"{fresh}.eml"]
