"""Admin moves (retry, hold, release, delete, requeue-badmail): what moves, what stays, what is refused."""

from __future__ import annotations

import fcntl
import json
import os
import time

import pytest

from relay.queue.folders import Queue
from tests.relay.relay_helpers import (
    RunningRelay,
    aged_queue_id,
    drop_notification,
    files,
    place_queued,
    relay_cli,
    wait_until,
)


def ids_in(config, folder: str) -> list[str]:
    return sorted(p.name.split(".")[0] for p in files(config.relay.queue_dir / folder))


def eml(config, folder: str, queue_id: str):
    return config.relay.queue_dir / folder / f"{queue_id}.eml"


def listed(config_path, *args: str) -> list[dict]:
    return json.loads(relay_cli(config_path, "list", "--json", *args).stdout)["messages"]


def test_retry_makes_a_deferred_message_due_now_and_keeps_its_history(config_path, config):
    queue_id = place_queued(config, "deferred", due_in=3600, attempts=((451, "451 4.7.1 later"),))
    result = relay_cli(config_path, "retry", queue_id)
    assert result.exit_code == 0 and result.stdout == f"due now: {queue_id}\n"
    assert time.time() - 5 < eml(config, "deferred", queue_id).stat().st_mtime <= time.time()
    assert [a.code for a in Queue.from_config(config).history(queue_id).attempts] \
        == [451]


def test_hold_keeps_a_message_aside_and_release_brings_it_back_due_now(config_path, config):
    queue_id = place_queued(config, "deferred", due_in=3600)
    assert relay_cli(config_path, "hold", queue_id).stdout == f"held: {queue_id}\n"
    assert ids_in(config, "hold") == [queue_id] and ids_in(config, "deferred") == []
    refused = relay_cli(config_path, "retry", queue_id)  # held mail is never sent, even on retry
    assert refused.exit_code == 1 and f"{queue_id}: is in hold/, not in deferred/" in refused.stderr
    assert relay_cli(config_path, "release", queue_id).stdout == f"released: {queue_id}\n"
    assert ids_in(config, "deferred") == [queue_id] and ids_in(config, "hold") == []
    assert eml(config, "deferred", queue_id).stat().st_mtime <= time.time()


def test_delete_asks_first_no_keeps_the_message_yes_removes_it_and_its_history(config_path, config):
    queue_id = place_queued(config, "deferred", attempts=((451, "451 4.7.1 later"),))
    meta = config.relay.queue_dir / "meta" / f"{queue_id}.json"
    kept = relay_cli(config_path, "delete", queue_id, input="n\n")
    assert kept.exit_code == 1 and "Delete 1 message(s)? This cannot be undone" in kept.output
    assert ids_in(config, "deferred") == [queue_id] and meta.exists()
    gone = relay_cli(config_path, "delete", queue_id, input="y\n")
    assert gone.exit_code == 0 and f"deleted: {queue_id}" in gone.stdout
    assert ids_in(config, "deferred") == [] and not meta.exists()


def test_delete_yes_removes_badmail_and_its_reason_file_without_asking(config_path, config):
    queue_id = place_queued(config, "badmail")
    result = relay_cli(config_path, "delete", "--yes", queue_id)  # no input: a question would abort
    assert result.exit_code == 0 and "Delete" not in result.output
    assert list((config.relay.queue_dir / "badmail").iterdir()) == []


def test_requeue_badmail_gives_a_new_id_due_now_with_attempts_reset(config_path, config):
    queue_id = place_queued(config, "badmail", attempts=((550, "550 5.1.1 No such user"),))
    result = relay_cli(config_path, "requeue-badmail", queue_id)
    assert result.exit_code == 0 and result.stdout.startswith(f"requeued: {queue_id} -> ")
    new_id = result.stdout.split(" -> ")[1].strip()  # a new id, as `postsuper -r` gives
    assert ids_in(config, "deferred") == [new_id] and new_id > queue_id
    assert list((config.relay.queue_dir / "badmail").iterdir()) == []  # .bdr gone too
    assert eml(config, "deferred", new_id).stat().st_mtime <= time.time()
    [row] = listed(config_path)
    assert (row["folder"], row["attempts"], row["last_error"]) == ("deferred", 0, "")


def test_all_with_filters_touches_only_the_matching_messages(config_path, config):
    news = sorted(place_queued(config, "deferred", sender="news@example.test", age=7200) for _ in range(3))
    site = place_queued(config, "deferred", sender="site@example.test", to=("ann@example.test",), age=7200)
    fresh = place_queued(config, "deferred", sender="news@example.test", age=60)
    bad = [place_queued(config, "badmail", sender=s) for s in ("news@example.test", "site@example.test")]
    held = relay_cli(config_path, "hold", "--all", "--sender", "news@", "--older-than", "1h")
    assert held.exit_code == 0 and held.stdout.count("held: ") == 3
    assert ids_in(config, "hold") == news and ids_in(config, "deferred") == sorted([site, fresh])
    assert relay_cli(config_path, "retry", "--all", "--recipient", "ann@").stdout == f"due now: {site}\n"
    assert eml(config, "deferred", site).stat().st_mtime <= time.time()
    assert eml(config, "deferred", fresh).stat().st_mtime > time.time() + 3000
    assert relay_cli(config_path, "release", "--all").stdout.count("released: ") == 3
    requeued = relay_cli(config_path, "requeue-badmail", "--all", "--sender", "site@")
    assert requeued.exit_code == 0 and ids_in(config, "badmail") == [bad[0]]
    new_id = requeued.stdout.split(" -> ")[1].strip()
    assert relay_cli(config_path, "delete", "--all", "--yes", "--sender", "news@").exit_code == 0
    assert ids_in(config, "deferred") == sorted([site, new_id]) and ids_in(config, "hold") == []
    misuse = relay_cli(config_path, "hold", "--sender", "news@", site)
    assert misuse.exit_code == 2 and "go with --all" in misuse.output
    assert relay_cli(config_path, "hold").exit_code == 2  # neither ids nor --all


@pytest.mark.parametrize("command", [["show"], ["retry"], ["hold"], ["release"], ["delete", "--yes"],
                                     ["requeue-badmail"]])
def test_unknown_id_exits_1_naming_it(config_path, config, command):
    place_queued(config, "deferred")
    for queue_id in (aged_queue_id(), "../deferred/x", "not-an-id"):
        result = relay_cli(config_path, *command, queue_id)
        assert result.exit_code == 1, result.output
        assert f"{queue_id}: no such message in the queue" in result.output
    assert len(files(config.relay.queue_dir / "deferred")) == 1


def test_message_a_live_relay_holds_in_active_is_busy_and_left_untouched(config_path, config):
    queue_id = place_queued(config, "active")
    path = eml(config, "active", queue_id)
    before = path.read_bytes(), path.stat().st_mtime
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a relay's worker holds while it sends
        result = relay_cli(config_path, "hold", queue_id)
        assert result.exit_code == 1
        assert f"not held: {queue_id}: busy: a running relay is delivering it now" in result.stderr
        for command in (["delete", "--yes"], ["retry"], ["release"], ["requeue-badmail"]):
            assert relay_cli(config_path, *command, queue_id).exit_code == 1, command
        assert (path.read_bytes(), path.stat().st_mtime) == before
        assert ids_in(config, "hold") == [] and ids_in(config, "active") == [queue_id]
    finally:
        os.close(fd)
    # The kernel drops the lock when a relay dies: its message is then free to move.
    assert relay_cli(config_path, "hold", queue_id).exit_code == 0
    assert ids_in(config, "hold") == [queue_id]


def test_queue_left_by_a_real_relay_is_listed_repaired_and_sent(config_path, config, upstream):
    upstream.faults.rcpt_replies.update({"later@example.test": "451 4.7.1 Greylisted",
                                         "gone@example.test": "550 5.1.1 No such user"})
    for n, rcpt in enumerate(("later@example.test", "gone@example.test", "ok@example.test")):
        drop_notification(config, n, to=[rcpt])
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts == {"sent": 1, "deferred": 1, "badmail": 1}, what="3 outcomes")
    rows = {m["folder"]: m for m in listed(config_path)}
    assert set(rows) == {"deferred", "badmail"}
    assert (rows["deferred"]["recipients"], rows["deferred"]["attempts"], rows["deferred"]["last_error"]) \
        == (["later@example.test"], 1, "451 4.7.1 Greylisted")
    assert rows["deferred"]["next_attempt"] > time.time() + 3000  # the 1h schedule
    assert rows["badmail"]["last_error"] == (
        "refused by the smart host for 1 recipient: <gone@example.test>: 550 5.1.1 No such user")
    assert relay_cli(config_path, "status").exit_code == 1  # badmail needs a human
    upstream.faults.rcpt_replies.clear()  # the sysadmin fixed the mailboxes
    assert relay_cli(config_path, "retry", "--all").exit_code == 0
    assert relay_cli(config_path, "requeue-badmail", rows["badmail"]["id"]).exit_code == 0
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["sent"] == 2, what="both repaired messages")
    assert sorted(r.recipients[0] for r in upstream.received) == [
        "gone@example.test", "later@example.test", "ok@example.test"]
    assert listed(config_path) == [] and relay_cli(config_path, "status").exit_code == 0


def test_requeued_badmail_goes_only_to_the_recipients_that_were_refused(config_path, config, upstream):
    upstream.faults.rcpt_replies["b@example.test"] = "451 4.2.2 Mailbox full"
    drop_notification(config, to=["a@example.test", "b@example.test"])
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["deferred"] == 1, what="a@ sent, b@ deferred")
        upstream.faults.rcpt_replies["b@example.test"] = "550 5.2.2 Mailbox full for good"
        assert relay_cli(config_path, "retry", "--all").exit_code == 0
        relay.flush()  # what SIGUSR1 does; this in-thread relay has no pid file to signal
        wait_until(lambda: relay.counts["badmail"] == 1, what="b@ refused for good")
        upstream.faults.rcpt_replies.clear()
        assert relay_cli(config_path, "requeue-badmail", "--all").exit_code == 0
        relay.flush()
        wait_until(lambda: len(upstream.received) == 2, what="the requeued message")
    assert [r.recipients for r in upstream.received] == [["a@example.test"], ["b@example.test"]]


def test_list_and_show_count_the_attempts_of_a_badmail_message(config_path, config, upstream):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    drop_notification(config, to=["gone@example.test"])
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 1, what="badmail")
    [row] = listed(config_path)
    assert "attempts:   1" in relay_cli(config_path, "show", row["id"]).stdout
    assert row["attempts"] == 1


def test_all_with_nothing_to_match_is_not_an_error(config_path, config):
    place_queued(config, "hold")  # the folders exist; deferred/ is empty
    result = relay_cli(config_path, "retry", "--all")
    assert result.exit_code == 0, result.output
