"""The daemon against real SMTP servers: each SMTP outcome lands the message where it should."""

from __future__ import annotations

import json
import logging
import time

from relay.queue.history import History
from settings import load_config
from tests.ports import free_port
from tests.relay.relay_helpers import (
    RunningRelay,
    drop_notification,
    files,
    message_ids,
    relay_cli,
    relay_config,
    relay_config_file,
    wait_until,
)
from tests.smtp_servers import BusyServer, FaultyServer


def queue_folder(config, name):
    return config.relay.queue_dir / name


def history_of(config, path) -> History:
    queue_id = path.name.split(".")[0]
    return History.from_json((config.relay.queue_dir / "meta" / f"{queue_id}.json").read_text())


def test_message_goes_out_with_envelope_and_without_internal_lines(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port)
    raw = (b"X-Sender: <bounces@example.test>\r\nX-Receiver: <hidden@example.test>\r\n"
           b"X-Receiver: <a@example.test>\r\nFrom: Site <site@example.test>\r\n"
           b"To: a@example.test\r\nBcc: hidden@example.test\r\nSubject: hello\r\n\r\n"
           b".leading dot\r\n\xc3\xa9t\xc3\xa9\r\n")
    (config.pickup.dir / "by-hand.eml").write_bytes(raw)
    with RunningRelay(config) as relay:
        wait_until(lambda: upstream.received, what="delivery")
        wait_until(lambda: relay.counts["sent"] == 1)
    got = upstream.received[0]
    assert got.sender == "bounces@example.test"
    assert got.recipients == ["hidden@example.test", "a@example.test"]
    assert got.content == (b"From: Site <site@example.test>\nTo: a@example.test\n"
                           b"Subject: hello\n\n.leading dot\n\xc3\xa9t\xc3\xa9\n")
    assert not list(config.pickup.dir.iterdir())
    assert not files(queue_folder(config, "active")) and not files(queue_folder(config, "deferred"))


def test_archive_keeps_delivered_messages_in_sent(tmp_path, upstream):
    config = relay_config(tmp_path, upstream.port, archive=True)
    drop_notification(config)
    with RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "sent")), what="sent/")
    assert len(upstream.received) == 1


def test_451_for_one_recipient_delivers_the_other_and_retries_only_the_first(tmp_path, upstream):
    upstream.faults.rcpt_replies["later@example.test"] = "451 4.7.1 Greylisted, try again"
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1s"])
    drop_notification(config, to=["now@example.test", "later@example.test"])
    with RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "deferred")), what="a deferral")
        deferred = files(queue_folder(config, "deferred"))[0]
        history = history_of(config, deferred)
        assert history.recipients_left == ["later@example.test"]
        assert history.attempts[0].code == 451 and "Greylisted" in history.attempts[0].reply
        assert [r.recipients for r in upstream.received] == [["now@example.test"]]
        upstream.faults.rcpt_replies.clear()
        wait_until(lambda: len(upstream.received) == 2, what="the retry")
    assert upstream.received[1].recipients == ["later@example.test"]
    assert not files(queue_folder(config, "deferred"))
    assert not list((config.relay.queue_dir / "meta").iterdir())


def test_550_for_one_recipient_delivers_the_others_and_keeps_the_refusal_findable(tmp_path, upstream):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    config = relay_config(tmp_path, upstream.port)
    drop_notification(config, to=["ok@example.test", "gone@example.test", "also@example.test"])
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 1, what="the refusal kept in badmail")
    assert [r.recipients for r in upstream.received] == [["ok@example.test", "also@example.test"]]
    assert not files(queue_folder(config, "deferred"))
    config_file = relay_config_file(tmp_path, upstream.port)
    (row,) = json.loads(relay_cli(config_file, "list", "--folder", "badmail", "--json").output)["messages"]
    assert row["recipients"] == ["gone@example.test"]
    assert row["last_error"].startswith("refused by the smart host for 1 recipient; delivered to "
                                        "the other 2: <gone@example.test>: 550 5.1.1 No such user")
    ((refusal),) = row["refused"]
    assert refusal["recipient"] == "gone@example.test" and refusal["reply"] == "550 5.1.1 No such user"
    assert abs(refusal["at"] - time.time()) < 60
    shown = relay_cli(config_file, "show", row["id"]).output
    assert "refused for good:\n  <gone@example.test>  550 5.1.1 No such user" in shown
    upstream.faults.rcpt_replies.clear()  # the mailbox exists again: only its owner gets a copy
    assert relay_cli(config_file, "requeue-badmail", row["id"]).exit_code == 0
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 1, what="the requeued message sent")
    assert [r.recipients for r in upstream.received][1:] == [["gone@example.test"]]


def test_550_for_every_recipient_goes_to_badmail_with_the_reply(tmp_path, upstream):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user here"
    config = relay_config(tmp_path, upstream.port)
    original = drop_notification(config, to=["gone@example.test"]).read_bytes()
    with RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "badmail"), "*.bdr"), what="badmail")
    [eml] = files(queue_folder(config, "badmail"))
    reason = eml.with_suffix(".bdr").read_text()
    assert eml.read_bytes() == original  # untouched, envelope lines included
    assert "550 5.1.1 No such user here" in reason
    assert "<gone@example.test>" in reason and "attempts: 1" in reason
    assert upstream.received == []


def test_452_too_many_recipients_sends_the_rest_in_a_later_transaction(tmp_path, upstream):
    upstream.faults.max_recipients = 2
    config = relay_config(tmp_path, upstream.port)
    drop_notification(config, to=["a@example.test", "b@example.test", "c@example.test"])
    with RunningRelay(config):
        wait_until(lambda: len(upstream.received) == 2, what="both transactions")
    assert [r.recipients for r in upstream.received] == [
        ["a@example.test", "b@example.test"], ["c@example.test"]]


def test_552_on_data_goes_to_badmail(tmp_path, upstream):
    upstream.faults.data_reply = "552 5.3.4 Message size exceeds fixed limit"
    config = relay_config(tmp_path, upstream.port)
    drop_notification(config)
    with RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "badmail"), "*.bdr"), what="badmail")
    reason = files(queue_folder(config, "badmail"), "*.bdr")[0].read_text()
    assert "552 5.3.4 Message size exceeds fixed limit" in reason


def test_connection_dropped_after_data_is_deferred_not_lost(tmp_path, upstream):
    upstream.faults.drop_after_data = True
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1h"])
    drop_notification(config)
    with RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "deferred")), what="a deferral")
    history = history_of(config, files(queue_folder(config, "deferred"))[0])
    assert history.attempts[0].code is None and "connection lost" in history.attempts[0].reply


def test_a_final_dot_answered_after_timeout_but_within_data_timeout_is_sent_once(tmp_path, upstream):
    upstream.faults.data_delay = 2   # the host stores the message, then answers the final dot late
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1s"],
                          smarthost={"timeout": "1s", "data_timeout": "10s"})
    drop_notification(config)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] + relay.counts["deferred"], what="an attempt")
        time.sleep(1.5)  # a deferral would have been tried again by now
    assert (relay.counts["sent"], relay.counts["deferred"]) == (1, 0)
    assert len(upstream.received) == 1
    assert not files(queue_folder(config, "deferred")) and not files(queue_folder(config, "active"))


def test_a_slow_rcpt_answer_within_command_timeout_is_sent_once(tmp_path, upstream):
    upstream.faults.rcpt_delay = 1.5
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1s"],
                          smarthost={"timeout": "1s", "command_timeout": "10s"})
    drop_notification(config)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] + relay.counts["deferred"], what="an attempt")
    assert (relay.counts["sent"], relay.counts["deferred"]) == (1, 0)
    assert len(upstream.received) == 1


def test_no_answer_to_the_final_dot_within_data_timeout_is_deferred_as_may_have_been_delivered(
        tmp_path, upstream, caplog):
    upstream.faults.data_delay = 2
    config_path = relay_config_file(tmp_path, upstream.port, smarthost={"data_timeout": "0.5s"})
    config = load_config(config_path)
    drop_notification(config)
    with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "deferred")), what="a deferral")
    attempt = history_of(config, files(queue_folder(config, "deferred"))[0]).attempts[0]
    assert attempt.code is None
    assert attempt.reply == ("timed out after 0.5s waiting for the reply to the final dot: "
                             "may have been delivered")
    assert "status=deferred (timed out after 0.5s waiting for the reply to the final dot: " \
           "may have been delivered)" in caplog.text
    [row] = json.loads(relay_cli(config_path, "list", "--json").stdout)["messages"]
    assert "may have been delivered" in json.dumps(row)


def test_a_timeout_before_the_final_dot_names_the_step_and_is_not_a_possible_delivery(tmp_path, upstream):
    upstream.faults.rcpt_delay = 2
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1h"],
                          smarthost={"command_timeout": "0.5s"})
    drop_notification(config)
    with RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "deferred")), what="a deferral")
    [attempt] = history_of(config, files(queue_folder(config, "deferred"))[0]).attempts
    assert attempt.reply == "timed out after 0.5s waiting for the reply to RCPT TO"
    assert not upstream.received


def test_421_greeting_defers_and_pauses_instead_of_hammering(tmp_path):
    with BusyServer() as busy:
        config = relay_config(tmp_path, busy.port, retry_schedule=["1h"])
        for n in range(20):
            drop_notification(config, n)
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["deferred"] >= 1, what="first deferral")
            wait_until(lambda: busy.connections >= 2, timeout=5, what="a probe after the pause")
            connections = busy.connections
    # 1 s, 2 s... between probes: a handful of connections, not one per message per second.
    assert connections <= 4
    attempted = list((config.relay.queue_dir / "meta").iterdir())
    assert 1 <= len(attempted) <= 4  # the rest waited without trying
    deferred = files(queue_folder(config, "deferred"))
    assert len(files(config.pickup.dir)) + len(deferred) == 20  # nothing lost; stop put back the rest
    history = History.from_json(attempted[0].read_text())
    assert history.attempts[0].code == 421


def test_mail_waiting_while_the_host_is_down_goes_out_when_it_comes_back(tmp_path):
    port = free_port()  # nothing listens there yet: connection refused
    config = relay_config(tmp_path, port, retry_schedule=["1s"])
    for n in range(5):
        drop_notification(config, n)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["deferred"] >= 1, what="a failed attempt")
        with FaultyServer(port=port) as server:
            wait_until(lambda: len(server.received) == 5, timeout=20, what="all five")
    assert not files(queue_folder(config, "deferred"))


def test_after_an_outage_a_relay_in_a_long_pause_resumes_within_a_second_and_held_no_mail(tmp_path):
    port = free_port()  # nothing listens there yet: connection refused
    # An hour between retries: a message used as a probe while the host was down must not
    # have been charged a retry step, or it would wait that hour.
    config = relay_config(tmp_path, port, retry_schedule=["1h"])
    for n in range(20):
        drop_notification(config, n)
    with RunningRelay(config) as paused, RunningRelay(config) as other:
        wait_until(lambda: paused.counts["deferred"] and other.counts["deferred"],
                   what="both relays finding the host down")
        long_pause(paused)
        # What it had claimed goes back to deferred/, due now, instead of sitting in active/.
        wait_until(lambda: not files(queue_folder(config, "active")), timeout=3,
                   what="claimed mail back in deferred/")
        with FaultyServer(port=port) as server:
            wait_until(lambda: server.received, timeout=10, what="a first delivery")
            wait_until(lambda: paused.smarthosts.down_until == 0, timeout=1,
                       what="the paused relay to resume")
            wait_until(lambda: len(server.received) == 20, timeout=3, what="all twenty")
    assert len(set(message_ids(server.received))) == 20
    assert not files(queue_folder(config, "deferred")) and not files(config.pickup.dir)
    assert (config.relay.queue_dir / "smarthost.up").stat().st_mode & 0o777 == 0o600


def long_pause(relay) -> None:
    """Drive a relay's backoff to its longest pause (60 s), as a long outage would."""
    backoff = relay.smarthosts.hosts[0].backoff
    while backoff.failed(time.time()) < backoff.cap:
        pass


def test_8bit_message_to_a_server_without_8bitmime_says_why_in_badmail(tmp_path, upstream):
    upstream.faults.hide_extensions = ("8BITMIME",)
    config = relay_config(tmp_path, upstream.port)
    (config.pickup.dir / "latin.eml").write_bytes(
        b"From: a@example.test\nTo: b@example.test\nSubject: x\n\ncaf\xc3\xa9\n")
    with RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "badmail"), "*.bdr"), what="badmail")
    assert "8BITMIME" in files(queue_folder(config, "badmail"), "*.bdr")[0].read_text()


def test_expired_message_goes_to_badmail_as_expired(tmp_path, upstream):
    upstream.faults.rcpt_replies["slow@example.test"] = "451 4.3.0 Try later"
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1s"], max_lifetime="1s")
    drop_notification(config, to=["slow@example.test"])
    with RunningRelay(config):
        wait_until(lambda: files(queue_folder(config, "badmail"), "*.bdr"), what="expiry")
    reason = files(queue_folder(config, "badmail"), "*.bdr")[0].read_text()
    assert reason.startswith("reason: expired") and "451 4.3.0 Try later" in reason
    [meta] = list((config.relay.queue_dir / "meta").iterdir())  # kept for list/requeue
    assert json.loads(meta.read_text())["recipients_left"] == ["slow@example.test"]
