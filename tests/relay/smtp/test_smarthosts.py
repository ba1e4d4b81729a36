"""Several smart hosts ([[relay.smarthosts]]): the config, failover within one attempt, the
cool-down and the way back, every host down, status and metrics per host, each host's own
AUTH. Real servers on 127.0.0.1; closed ports for hosts that refuse connections."""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter

import pytest

from relay.admin.status import status_report
from relay.queue.folders import BADMAIL, DEFERRED, Queue
from relay.queue.history import History
from relay.smtp.smarthosts import SmartHosts
from settings import ConfigError, load_config
from tests.configs import write_toml
from tests.ports import free_port
from tests.relay.daemon.test_metrics_ratelimit import metric, timed
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    relay_cli,
    relay_config,
    relay_config_file,
    wait_until,
)
from tests.relay.smtp.test_tls_auth import PASSWORD, USER, Logins
from tests.smtp_servers import BusyServer, FaultyServer


def closed_ports(count: int) -> list[int]:
    """Ports nothing listens on: connecting is refused."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def histories(config) -> list[History]:
    return [History.from_json(p.read_text()) for p in (config.relay.queue_dir / "meta").glob("*.json")]


# -- the config, written as text: its two forms and its mistakes are the subject ---------------


def test_one_smarthost_table_and_several_smarthosts_tables_both_give_the_list_of_hosts(tmp_path):
    one = load_config(write_toml(tmp_path, '[relay.smarthost]\nhost = "mx.example.test"\nport = 587\n'))
    assert [h.label for h in one.relay.hosts] == ["mx.example.test:587"]
    several = load_config(write_toml(tmp_path, (
        '[relay]\nsmarthost_cooldown = "5m"\n'
        '[[relay.smarthosts]]\nhost = "mx1.example.test"\nport = 587\ntls = "starttls"\n'
        'username = "relay"\npassword_env = "MX1_PASSWORD"\n'
        '[[relay.smarthosts]]\nhost = "mx2.example.test"\nrate_limit = "10/s"\nweight = 3\n')))
    first, second = several.relay.hosts
    assert (first.label, first.tls, first.username, first.rate_limit) == (
        "mx1.example.test:587", "starttls", "relay", "")
    assert (second.label, second.tls, second.rate_limit, second.weight) == (
        "mx2.example.test:2525", "none", "10/s", 3)
    assert several.relay.smarthost_cooldown == 300
    assert [h.label for h in load_config(write_toml(tmp_path, "")).relay.hosts] == ["127.0.0.1:2525"]


@pytest.mark.parametrize("text, expected", [
    ('[relay.smarthost]\nport = 25\n[[relay.smarthosts]]\nhost = "mx1.example.test"\n',
     "[relay] smarthosts: set [relay.smarthost] (one host) or [[relay.smarthosts]] (several), not both"),
    ('[[relay.smarthosts]]\nhost = "a.example.test"\n[[relay.smarthosts]]\nhostname = "b.example.test"\n',
     "[relay.smarthosts #2] unknown key 'hostname'"),
    ('[[relay.smarthosts]]\nhost = "a.example.test"\n[[relay.smarthosts]]\nhost = "a.example.test"\n',
     "[relay] smarthosts: a.example.test:2525 is listed twice"),
    ('[[relay.smarthosts]]\nhost = "a.example.test"\nweight = -1\n',
     "[relay.smarthosts] weight: -1 is outside 0..1000"),
    ('[relay]\nsmarthost_cooldown = "0s"\n', "[relay] smarthost_cooldown:"),
])
def test_config_mistakes_with_several_hosts_name_the_file_the_table_and_the_key(tmp_path, text, expected):
    path = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: ") and expected in str(raised.value)


def test_weighted_hosts_share_first_place_by_weight_and_unweighted_ones_come_last(tmp_path):
    config = relay_config(tmp_path, None, smarthosts=[{"port": 1, "weight": 3}, {"port": 2, "weight": 1},
                                                       {"port": 3}, {"port": 4}])
    hosts = SmartHosts(config.relay, tmp_path, random.Random(7))
    now = time.time()
    orders = [[h.config.port for h in hosts.order(now)] for _ in range(4000)]
    firsts = Counter(order[0] for order in orders)
    assert 2.5 <= firsts[1] / firsts[2] <= 3.5 and set(firsts) == {1, 2}
    assert all(order[2:] == [3, 4] for order in orders)   # fallbacks, in the order given
    hosts.hosts[0].backoff.failed(now, "connection refused")
    assert all(hosts.order(now)[0].config.port == 2 for _ in range(50))
    assert not hosts.paused(now) and hosts.hosts[0].backoff.paused(now)


# -- failover ----------------------------------------------------------------------------------


def test_a_host_refusing_connections_is_skipped_and_the_mail_goes_to_the_next_in_the_same_attempt(
        tmp_path, caplog):
    (closed,) = closed_ports(1)
    with FaultyServer() as second:
        config = relay_config(tmp_path, None, smarthosts=[{"port": closed}, {"port": second.port}])
        for n in range(5):
            drop_notification(config, n)
        with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["sent"] == 5, what="all five sent")
            assert len(second.received) == 5 and relay.counts["deferred"] == 0
    skipped = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert 1 <= len(skipped) <= 2   # once per worker, then skipped for the cool-down (1m)
    assert f"smart host 127.0.0.1:{closed} unavailable (connection to 127.0.0.1:{closed} refused)" \
        in skipped[0] and "skipped for 60s" in skipped[0]
    sent = [r.getMessage() for r in caplog.records if "status=sent" in r.getMessage()]
    assert len(sent) == 5 and all(f"relay=127.0.0.1:{second.port} " in line for line in sent)


def test_a_host_greeting_with_421_is_skipped_for_the_cool_down(tmp_path):
    with BusyServer() as busy, FaultyServer() as second:
        config = relay_config(tmp_path, None, smarthosts=[{"port": busy.port}, {"port": second.port}])
        for n in range(20):
            drop_notification(config, n)
        with RunningRelay(config):
            wait_until(lambda: len(second.received) == 20, what="all twenty at the second host")
    assert 1 <= busy.connections <= 2   # each worker tried it once, then it cooled down
    assert not files(config.relay.queue_dir / DEFERRED)


def test_mail_goes_back_to_the_first_host_after_the_cool_down(tmp_path):
    (port,) = closed_ports(1)
    with FaultyServer() as second:
        config = relay_config(tmp_path, None, smarthost_cooldown="1s",
                              smarthosts=[{"port": port}, {"port": second.port}])
        with RunningRelay(config) as relay:
            drop_notification(config, 0)
            wait_until(lambda: len(second.received) == 1, what="failover to the second host")
            with FaultyServer(port=port) as first:   # the first host is back
                wait_until(lambda: not relay.smarthosts.hosts[0].backoff.paused(time.time()),
                           timeout=3, what="the cool-down to end")
                drop_notification(config, 1)
                wait_until(lambda: len(first.received) == 1, timeout=10, what="mail at the first again")
                wait_until(lambda: relay.counts["sent"] == 2, what="both counted")
    assert len(second.received) == 1 and first.received[0].recipients == ["user1@example.test"]


def test_a_host_one_relay_found_down_is_skipped_by_the_others_sharing_the_queue(tmp_path, caplog):
    with BusyServer() as busy, FaultyServer() as second:
        config = relay_config(tmp_path, None, connections=1,
                              smarthosts=[{"port": busy.port}, {"port": second.port}])
        drop_notification(config, 0)
        with RunningRelay(config) as first_relay:
            wait_until(lambda: first_relay.counts["sent"] == 1, what="the first relay's delivery")
        assert busy.connections == 1
        with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config) as other:
            for n in range(1, 4):
                drop_notification(config, n)
            wait_until(lambda: other.counts["sent"] == 3, what="the other relay's deliveries")
        assert busy.connections == 1 and len(second.received) == 4
    assert "as another relay process sharing the queue found: 421 greeting" in caplog.text


def test_a_4xx_from_one_host_defers_the_message_and_a_5xx_is_final_neither_tries_the_next(tmp_path):
    with FaultyServer() as first, FaultyServer() as second:
        first.faults.rcpt_replies["later@example.test"] = "451 4.3.0 Try later"
        first.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
        config = relay_config(tmp_path, None, retry_schedule=["1h"],
                              smarthosts=[{"port": first.port}, {"port": second.port}])
        drop_notification(config, 0, to=["later@example.test"])
        drop_notification(config, 1, to=["gone@example.test"])
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["deferred"] == 1 and relay.counts["badmail"] == 1,
                       what="one deferral and one badmail")
        assert second.mail_from == []   # a host that answered is not shopped around
        assert not relay.smarthosts.hosts[0].backoff.paused(time.time())
    assert len(files(config.relay.queue_dir / DEFERRED)) == 1
    assert "550 5.1.1" in files(config.relay.queue_dir / BADMAIL, "*.bdr")[0].read_text()


def test_with_every_host_down_mail_is_deferred_naming_each_and_the_relay_waits_without_spinning(
        tmp_path):
    a, b = closed_ports(2)
    config = relay_config(tmp_path, None, retry_schedule=["1h"],
                          smarthosts=[{"port": a}, {"port": b}])
    for n in range(10):
        drop_notification(config, n)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["deferred"] >= 1, what="a deferral")
        time.sleep(1.0)
        assert relay.smarthosts.paused(time.time())
        assert relay.counts["deferred"] <= 2   # one message per worker, then the relay waits
    assert sum(len(h.attempts) for h in histories(config)) == relay.counts["deferred"]
    assert len(files(config.pickup.dir)) + len(files(config.relay.queue_dir / DEFERRED)) == 10
    replies = [a.reply for h in histories(config) for a in h.attempts]
    assert replies and all(f"127.0.0.1:{a}" in r and f"127.0.0.1:{b}" in r for r in replies)
    assert any(r.startswith("no smart host could be used: ") for r in replies)
    assert not any(a.charged for h in histories(config) for a in h.attempts)   # no fault of the message
    deferred = files(config.relay.queue_dir / DEFERRED)
    assert deferred and all(p.stat().st_mtime <= time.time() + 1 for p in deferred)   # due when one answers


# -- what a sysadmin and a monitor see --------------------------------------------------------------


def test_status_shows_each_host_its_probe_and_the_one_the_relays_skip(tmp_path):
    (closed,) = closed_ports(1)
    with FaultyServer() as second:
        path = relay_config_file(tmp_path, None, smarthosts=[{"port": closed}, {"port": second.port}])
        config = load_config(path)
        drop_notification(config, 0)
        with RunningRelay(config):
            wait_until(lambda: second.received, what="the delivery through the second host")
        queue = Queue.from_config(config)
        seen = status_report(config, queue, warn_age=3600, probe_smarthost=False)
        first, other = seen.smarthosts
        assert (first.state, other.state) == ("cooling down", "up")
        assert "refused" in first.seen.last_error and first.seen.cooling_until > time.time()
        assert seen.problems == [f"smart host 127.0.0.1:{closed} {first.seen.describe(time.time())}"]
        report = json.loads(relay_cli(path, "status", "--json").output)
        assert [(h["port"], h["reachable"], h["state"]) for h in report["smarthosts"]] == [
            (closed, False, "unreachable"), (second.port, True, "reachable")]
        assert report["smarthosts"][0]["cooling_until"] > time.time()
        human = relay_cli(path, "status")
    assert human.exit_code == 1
    lines = human.output.splitlines()
    assert any(line.startswith(f"smart host 127.0.0.1:{closed}: UNREACHABLE (connection to ")
               and "; relays: cooling down until " in line for line in lines)
    assert any(line.startswith(f"smart host 127.0.0.1:{second.port}: reachable (")
               and "; relays: up (answered a relay" in line for line in lines)
    assert f"smart host 127.0.0.1:{closed} unreachable: connection to" in human.output


def test_relay_check_probes_each_host(tmp_path):
    (closed,) = closed_ports(1)
    with FaultyServer() as second:
        path = relay_config_file(tmp_path, None, smarthosts=[{"port": closed}, {"port": second.port}])
        (tmp_path / "queue").mkdir()
        result = relay_cli(path, "check")
    assert result.exit_code == 1
    assert f"PROBLEM  smart host 127.0.0.1:{closed}: connection to 127.0.0.1:{closed} refused" \
        in result.output
    assert f"ok       smart host 127.0.0.1:{second.port}: 127.0.0.1:{second.port} answered 250" \
        in result.output


def test_metrics_show_each_host_up_or_down_and_its_cool_downs(tmp_path):
    (closed,) = closed_ports(1)
    with FaultyServer() as second:
        config = relay_config(tmp_path, None, metrics_listen="127.0.0.1:0",
                              smarthosts=[{"port": closed}, {"port": second.port}])
        with RunningRelay(config) as relay:
            assert metric(relay, "relay_smarthost_host_up", host=f"127.0.0.1:{closed}") == 1  # not known down
            drop_notification(config, 0)
            wait_until(lambda: second.received, what="the delivery")
            assert metric(relay, "relay_smarthost_host_up", host=f"127.0.0.1:{closed}") == 0
            assert metric(relay, "relay_smarthost_host_up", host=f"127.0.0.1:{second.port}") == 1
            assert metric(relay, "relay_smarthost_cooldowns_total", host=f"127.0.0.1:{closed}") == 1
            assert metric(relay, "relay_smarthost_cooldowns_total", host=f"127.0.0.1:{second.port}") == 0
            assert metric(relay, "relay_smarthost_up") == 1   # mail still flows


# -- each host its own settings ---------------------------------------------------------------------


def auth_server() -> FaultyServer:
    return FaultyServer(authenticator=Logins(), auth_require_tls=False)


def two_hosts_first_with_auth(tmp_path, auth: FaultyServer, plain: FaultyServer):
    return relay_config(tmp_path, None, smarthosts=[
        {"port": auth.port, "username": USER, "password_env": "FIRST_HOST_PASSWORD",
         "allow_plaintext_auth": True},
        {"port": plain.port}])


def test_each_host_logs_in_with_its_own_credentials_and_a_host_without_auth_gets_none(
        tmp_path, monkeypatch):
    monkeypatch.setenv("FIRST_HOST_PASSWORD", PASSWORD)
    with auth_server() as auth, FaultyServer() as plain:
        config = two_hosts_first_with_auth(tmp_path, auth, plain)
        drop_notification(config, 0)
        with RunningRelay(config):
            wait_until(lambda: auth.received, what="the delivery through the first host")
        assert [r.login for r in auth.received] == [USER] and plain.mail_from == []


def test_a_host_refusing_the_login_cools_down_and_the_mail_goes_to_the_next_without_auth(
        tmp_path, monkeypatch):
    monkeypatch.setenv("FIRST_HOST_PASSWORD", "wrong")
    with auth_server() as auth, FaultyServer() as plain:
        config = two_hosts_first_with_auth(tmp_path, auth, plain)
        drop_notification(config, 0)
        with RunningRelay(config) as relay:
            wait_until(lambda: plain.received, what="the delivery through the second host")
            assert relay.smarthosts.hosts[0].backoff.paused(time.time())
        assert auth.received == [] and plain.received[0].login is None
    note = json.loads((config.relay.queue_dir / f"smarthost-127.0.0.1-{auth.port}.down").read_text())
    assert "login refused" in note["error"] and PASSWORD not in note["error"]


def test_each_host_has_its_own_rate_limit_and_waiting_for_it_is_no_reason_to_fail_over(tmp_path):
    with FaultyServer() as first, FaultyServer() as second:
        times = timed(first)
        config = relay_config(tmp_path, None, connections=4, smarthosts=[
            {"port": first.port, "rate_limit": "5/s"}, {"port": second.port}])
        for n in range(15):
            drop_notification(config, n)
        with RunningRelay(config):
            wait_until(lambda: len(times) == 15, timeout=15, what="fifteen at the first host")
        assert second.mail_from == []
    # A full bucket of 5 at once, then one each 0.2 s: the other 10 take about 2 s.
    assert 1.6 <= times[-1] - times[0] <= 4
