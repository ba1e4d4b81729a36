"""The sysadmin's queue commands (status, list, show, retry, hold, release, delete, requeue-badmail)."""

from __future__ import annotations

import json
import os
import socket
import time

from relay.queue.pids import PidFile
from tests.ports import free_port
from tests.relay.relay_helpers import (
    drop_notification,
    files,
    place_queued,
    relay_cli,
    relay_config_file,
)


def as_json(config_path, *args: str) -> dict:
    result = relay_cli(config_path, *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_status_counts_bytes_and_oldest_age_per_folder_and_exits_0_when_all_is_well(config_path, config):
    drop_notification(config, 1)
    drop_notification(config, 2)
    place_queued(config, "deferred", age=600)
    place_queued(config, "deferred", age=60)
    place_queued(config, "hold", age=7200)
    result = relay_cli(config_path, "status", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    folders = report["folders"]
    assert {f: t["count"] for f, t in folders.items()} == {
        "pickup": 2, "active": 0, "deferred": 2, "hold": 1, "badmail": 0}
    assert folders["pickup"]["bytes"] == sum(p.stat().st_size for p in files(config.pickup.dir))
    deferred = files(config.relay.queue_dir / "deferred")
    assert folders["deferred"]["bytes"] == sum(p.stat().st_size for p in deferred)
    assert 600 <= folders["deferred"]["oldest_age"] < 660  # arrival, not the next-attempt mtime
    assert 7200 <= folders["hold"]["oldest_age"] < 7260 and folders["active"]["oldest_age"] is None
    assert report["smarthost"]["reachable"] is True and "250" in report["smarthost"]["detail"]
    assert report["problems"] == [] and report["relays"] == []
    assert report["disk"]["low"] is False and report["disk"]["free_bytes"] > 100_000_000
    table = relay_cli(config_path, "status")
    assert table.exit_code == 0
    config_line, _blank, *lines = table.stdout.splitlines()
    assert config_line == f"config: {config_path.resolve()}"
    assert lines[0].split() == ["folder", "messages", "size", "oldest"]
    assert lines[3].split()[:2] == ["deferred", "2"] and lines[3].endswith("10m")
    assert "reachable" in table.stdout and "relay running: none" in table.stdout


def test_status_names_an_unreachable_smart_host_and_exits_1(tmp_path):
    config_path = relay_config_file(tmp_path, free_port())  # nothing listens there
    report = as_json(config_path, "status")
    assert report["smarthost"]["reachable"] is False and "refused" in report["smarthost"]["detail"]
    assert any("smart host unreachable" in p for p in report["problems"])
    table = relay_cli(config_path, "status")
    assert table.exit_code == 1 and "UNREACHABLE" in table.stdout and "needs attention" in table.stdout


def test_status_exits_1_while_badmail_is_not_empty(config_path, config):
    place_queued(config, "badmail")
    result = relay_cli(config_path, "status")
    assert result.exit_code == 1
    assert "badmail holds 1 message(s)" in result.stdout and "relay list --folder badmail" in result.stdout


def test_status_exits_1_for_a_deferred_message_older_than_warn_age(config_path, config):
    place_queued(config, "deferred", age=2 * 3600)
    result = relay_cli(config_path, "status", "--json", "--warn-age", "1h")
    assert result.exit_code == 1
    assert any(p.startswith("oldest deferred message is 2") for p in json.loads(result.stdout)["problems"])
    assert relay_cli(config_path, "status", "--warn-age", "3h").exit_code == 0


def test_status_lists_running_relays_and_clears_a_stale_pid_file(config_path, config):
    live = PidFile(config.relay.queue_dir)
    live.acquire()  # locked for its whole life, as `relay run` holds it
    try:
        stale = config.relay.queue_dir / "pids" / "4194303.pid"  # a relay killed with -9: unlocked
        stale.write_text(json.dumps({"pid": 4194303, "host": socket.gethostname(), "started": 1.0}))
        first = relay_cli(config_path, "status", "--json")
        report = json.loads(first.stdout)
        assert [r["pid"] for r in report["relays"]] == [os.getpid()]
        assert first.exit_code == 1 and any("stale pid file" in p for p in report["problems"])
        assert not stale.exists()
        second = relay_cli(config_path, "status")
        assert second.exit_code == 0 and f"relay running: pid {os.getpid()} on " in second.stdout
    finally:
        live.release()
    assert "relay running: none" in relay_cli(config_path, "status").stdout


def test_list_prints_an_aligned_table_and_the_same_rows_as_json(config_path, config):
    ids = [place_queued(config, "deferred", sender="a@example.test", to=("x@example.test",), age=300,
                        attempts=((451, "451 4.7.1 Greylisted"),)),
           place_queued(config, "hold", sender="a-much-longer-sender@example.test", age=200,
                        to=("y@example.test", "z@example.test", "w@example.test")),
           place_queued(config, "badmail", age=100, priority="bulk")]
    result = relay_cli(config_path, "list")
    assert result.exit_code == 0, result.output
    header, *rows, footer = result.stdout.splitlines()
    assert footer == f"3 message(s); * = bulk; config: {config_path.resolve()}"
    assert [r.split()[0] for r in rows] == ids  # oldest first
    for column in ("folder", "sender", "recipients"):  # left-aligned: every cell starts under its title
        start = header.index(column)
        assert all(r[start - 1] == " " and r[start] != " " for r in rows), column
    for column in ("age", "size", "tries"):  # right-aligned: every cell ends under its title
        end = header.index(column) + len(column)
        assert all(r[end - 1] != " " and r[end:end + 1] in ("", " ") for r in rows), column
    assert "y@example.test, +2 more" in rows[1] and "badmail*" in rows[2]
    assert rows[0].endswith("  1  451 4.7.1 Greylisted")
    messages = as_json(config_path, "list")["messages"]
    assert [m["id"] for m in messages] == ids
    first = messages[0]
    assert (first["folder"], first["sender"], first["recipients"]) == (
        "deferred", "a@example.test", ["x@example.test"])
    assert first["attempts"] == 1 and first["last_error"] == "451 4.7.1 Greylisted"
    assert 300 <= first["age"] < 360 and first["next_attempt"] > time.time() + 3000
    assert first["size"] == (config.relay.queue_dir / "deferred" / f"{ids[0]}.eml").stat().st_size
    assert messages[2]["priority"] == "bulk" and messages[2]["last_error"].startswith("refused by")


def test_list_filters_by_folder_sender_recipient_age_and_limit(config_path, config):
    old = place_queued(config, "deferred", sender="news@example.test", to=("ann@example.test",), age=7200)
    mid = place_queued(config, "deferred", sender="site@example.test", to=("bob@example.test",), age=1800)
    new = place_queued(config, "hold", sender="site@example.test", to=("ann@example.test",), age=60)

    def listed(*args: str) -> list[str]:
        return [m["id"] for m in as_json(config_path, "list", *args)["messages"]]
    assert listed() == [old, mid, new]
    assert listed("--folder", "hold") == [new]
    assert listed("--sender", "SITE@") == [mid, new]
    assert listed("--recipient", "ann@") == [old, new]
    assert listed("--older-than", "1h") == [old]
    assert listed("--older-than", "10m", "--recipient", "bob") == [mid]
    assert listed("--limit", "2") == [old, mid]
    assert relay_cli(config_path, "list", "--folder", "badmail").stdout == "no messages\n"


def test_show_prints_envelope_attempt_history_and_headers(config_path, config):
    queue_id = place_queued(config, "deferred", to=("ann@example.test", "bob@example.test"),
                            attempts=((451, "451 4.7.1 Greylisted"), (None, "timed out talking to x:25")))
    result = relay_cli(config_path, "show", queue_id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"id:         {queue_id} (transactional)\nfolder:     deferred/" in out
    assert "sender:     <noreply@example.test>" in out
    assert "recipients: <ann@example.test>, <bob@example.test>" in out
    assert "next try:" in out and "attempts:   2" in out
    assert "451 4.7.1 Greylisted  (ann@example.test, bob@example.test)" in out
    assert "timed out talking to x:25" in out
    assert "\nheaders:\nX-Sender: <noreply@example.test>" in out and f"Subject: queued {queue_id}" in out


def test_show_of_a_badmail_message_gives_the_reason(config_path, config):
    queue_id = place_queued(config, "badmail", reason="refused by the smart host: 550 5.1.1 No such user")
    out = relay_cli(config_path, "show", queue_id).stdout
    assert "folder:     badmail/" in out
    assert "badmail:\nreason: refused by the smart host: 550 5.1.1 No such user" in out


def test_list_before_the_first_relay_run_says_no_messages(config_path):
    result = relay_cli(config_path, "list")
    assert result.exit_code == 0 and result.stdout == "no messages\n"
