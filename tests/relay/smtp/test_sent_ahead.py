"""The next message's MAIL, RCPT and DATA go out behind the last one's final dot (RFC 2920), and
whatever the server answers to that dot, each message is delivered once and no command of one
lands in another's content: a 451, a 421, a dropped connection, a next message refused whole."""

from __future__ import annotations

from collections import Counter

from relay.queue.history import History
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    message_ids,
    relay_config,
    wait_until,
)
from tests.smtp_servers import Faults, FaultyServer, RecordingServer

N = 12


def drop_backlog(config, odd: dict[int, str]) -> list[str]:
    """N notifications, message n to odd[n] when given (else its own address); their ids."""
    paths = [drop_notification(config, n, to=[odd[n]] if n in odd else None) for n in range(N)]
    return [p.name.split(".")[0] for p in paths]


def received_once(server, expected: int) -> Counter:
    ids = Counter(message_ids(server.received))
    assert len(ids) == expected and set(ids.values()) == {1}, ids
    return ids


def no_command_in_content(server) -> None:
    for message in server.received:
        for line in message.content.split(b"\n"):
            assert not line.startswith((b"RSET", b"MAIL FROM:", b"RCPT TO:", b"QUIT")), line


def test_the_next_message_s_commands_go_out_with_the_last_one_s_content(tmp_path):
    with RecordingServer(wait_for_ahead=True) as server:
        config = relay_config(tmp_path, server.port, connections=1)
        for n in range(6):
            drop_notification(config, n)
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["sent"] == 6, what="six deliveries")
        received = server.received()
    assert sorted(t.recipients[0] for t in received) == [f"user{n}@example.test" for n in range(6)]
    # Each transaction the next one was sent behind saved the 0.2 s the server waited for a
    # command before answering the dot; without pipelining none would have.
    assert sum(t.next_sent_ahead for t in received) >= 3
    assert not received[-1].next_sent_ahead


def drain(tmp_path, faults: Faults, odd: dict[int, str], counts: dict[str, int], **relay):
    """N messages (odd: some to special addresses) through a pipelining server that answers
    as `faults` say, one connection, until the relay's counts are `counts`; each message the
    server got, it got once, and no command stands in any content. The config and the ids."""
    faults.pipelining = True
    with FaultyServer(faults) as server:
        config = relay_config(tmp_path, server.port, connections=1, **relay)
        ids = drop_backlog(config, odd)
        with RunningRelay(config) as running:
            wait_until(lambda: all(running.counts[k] == v for k, v in counts.items()),
                       what=f"counts {counts}")
        received_once(server, counts["sent"])
        no_command_in_content(server)
    return config, ids


def test_a_451_to_a_final_dot_defers_that_message_alone_and_sends_no_rset_into_the_next(tmp_path):
    faults = Faults(data_replies={"later@example.test": "451 4.3.0 try again later"})
    config, _ = drain(tmp_path, faults, {3: "later@example.test", 7: "later@example.test"},
                      {"sent": N - 2, "deferred": 2}, retry_schedule=["1h"])
    assert len(files(config.relay.queue_dir / "deferred")) == 2


def test_a_421_to_a_final_dot_sends_the_next_message_over_a_new_connection_once(tmp_path):
    faults = Faults(data_replies={"busy@example.test": "421 4.3.2 closing"})
    drain(tmp_path, faults, {4: "busy@example.test"}, {"sent": N - 1, "deferred": 1},
          retry_schedule=["1h"])


def test_a_connection_dropped_at_a_final_dot_loses_nothing_and_the_next_goes_once(tmp_path):
    faults = Faults(drop_for={"dropped@example.test"})
    config, ids = drain(tmp_path, faults, {5: "dropped@example.test"},
                        {"sent": N - 1, "deferred": 1}, retry_schedule=["1h"])
    [kept] = files(config.relay.queue_dir / "deferred")
    assert kept.name.split(".")[0] == ids[5]
    history = History.from_json((config.relay.queue_dir / "meta" / f"{ids[5]}.json").read_bytes())
    assert "may have been delivered" in history.attempts[-1].reply


def test_a_message_sent_ahead_whose_recipients_are_all_refused_goes_to_badmail_alone(tmp_path):
    faults = Faults(rcpt_replies={"nobody@example.test": "550 5.1.1 no such user"})
    drain(tmp_path, faults, {2: "nobody@example.test", 8: "nobody@example.test"},
          {"sent": N - 2, "badmail": 2})


def test_a_host_that_goes_away_mid_drain_loses_no_message_prepared_ahead(tmp_path):
    server = FaultyServer(Faults(pipelining=True, data_delay=0.05))   # a drain of about 0.6 s
    port = server.port
    config = relay_config(tmp_path, port, connections=1)
    with server:
        ids = drop_backlog(config, {})
        with RunningRelay(config) as relay:
            wait_until(lambda: len(server.received) >= 3, what="a first few deliveries")
            server.stop()
            wait_until(lambda: relay.counts["deferred"] >= 1, what="a message deferred, the host down")
            with FaultyServer(Faults(pipelining=True), port=port) as again:
                wait_until(lambda: not files(config.pickup.dir)
                           and not files(config.relay.queue_dir / "deferred")
                           and not files(config.relay.queue_dir / "active"), timeout=20,
                           what="the rest sent once the host is back")
                arrived = set(message_ids(server.received)) | set(message_ids(again.received))
    assert len(arrived) == N, f"{N - len(arrived)} of {N} lost ({len(ids)} dropped)"
