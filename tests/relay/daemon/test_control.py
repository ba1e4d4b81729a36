"""The relay's side of the dashboard: the status snapshot it publishes and the move requests it
carries out (relay.daemon.control, relay.admin.status, relay.admin.move_requests), on real queue
folders, read back as the site reads them (channel.status, channel.moves)."""

from __future__ import annotations

import json
import logging
import os
import stat
import time

import pytest

from channel import status
from channel.moves import REQUESTS, RESULTS, RequestRefused, read_result, submit
from relay.admin import status as relay_status
from relay.admin.move_requests import make_folders
from relay.daemon.control import Control
from relay.queue.activity import Activity
from relay.queue.folders import BADMAIL, DEFERRED, HOLD, Queue
from relay.queue.history import Attempt
from tests.relay.relay_helpers import files, place_queued, relay_config


def control_for(config) -> Control:
    queue = Queue.from_config(config)
    queue.create()
    control = Control(config, queue, Activity())
    make_folders(config.relay.admin_dir)
    return control


@pytest.fixture
def config(tmp_path):
    return relay_config(tmp_path, 1, retry_schedule=["1h"])


def test_the_snapshot_has_counts_rows_history_and_reasons_but_no_subject_or_body(config):
    deferred = place_queued(config, DEFERRED, to=("ann@example.org",), age=7200,
                            attempts=((451, "451 4.3.0 try later"),))
    held = place_queued(config, HOLD, sender="news@example.org")
    bad = place_queued(config, BADMAIL, reason="refused by the smart host: 550 5.1.1 No such user")
    control = control_for(config)
    assert control.publish(time.time(), force=True)

    path = config.relay.admin_dir / status.STATUS_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    text = path.read_text()
    assert "Subject" not in text and "body" not in text and "queued " not in text
    seen = status.read(config.relay.admin_dir)
    folders = seen.status.folders
    assert (folders[DEFERRED].count, folders[HOLD].count, folders[BADMAIL].count) == (1, 1, 1)
    assert folders[DEFERRED].oldest_age >= 7200
    [shown] = seen.messages[DEFERRED]
    assert (shown.row.id, shown.row.recipients, shown.row.attempts) == (deferred, ("ann@example.org",), 1)
    assert [a.reply for a in shown.history] == ["451 4.3.0 try later"]
    [held_shown] = seen.messages[HOLD]
    assert held_shown.row.id == held and held_shown.row.sender == "news@example.org"
    [bad_shown] = seen.messages[BADMAIL]
    assert bad_shown.row.id == bad and bad_shown.row.last_error.startswith("refused by the smart host: 550")
    assert "550 5.1.1 No such user" in bad_shown.reason
    assert seen.status.smarthosts[0].reachable is None   # no probe: the relay says what it saw
    assert json.loads(text)["status"]["smarthost"]["reachable"] is None
    assert "badmail holds 1 message(s)" in " ".join(seen.status.problems)


def test_the_snapshot_lists_only_the_newest_rows_but_counts_all(config, monkeypatch):
    monkeypatch.setattr(relay_status, "ROWS_PER_FOLDER", 3)
    ids = [place_queued(config, DEFERRED, age=100 - n) for n in range(5)]
    control_for(config).publish(time.time(), force=True)
    seen = status.read(config.relay.admin_dir)
    assert seen.status.folders[DEFERRED].count == 5
    assert [m.row.id for m in seen.messages[DEFERRED]] == ids[:1:-1]   # newest first


def test_a_request_is_carried_out_logged_with_the_admin_and_answered(config, caplog):
    one, two = place_queued(config, DEFERRED), place_queued(config, DEFERRED)
    control = control_for(config)
    request = submit(config.relay.admin_dir, "hold", [one, two, "0" * 24], "Root Admin")
    with caplog.at_level(logging.INFO, logger="relay"):
        control.run_once(time.time())

    queue = Queue.from_config(config)
    assert {f.name.split(".")[0] for f in files(queue.dirs[HOLD])} == {one, two}
    assert not list((config.relay.admin_dir / REQUESTS).iterdir())   # taken and removed
    result = read_result(config.relay.admin_dir, request)
    assert result.refused is None and result.admin == "Root Admin" and result.done == "held"
    assert [(r.id, r.ok) for r in result.results] == [(one, True), (two, True), ("0" * 24, False)]
    assert "no such message" in result.results[2].error
    assert stat.S_IMODE(os.stat(config.relay.admin_dir / RESULTS / f"{request}.json").st_mode) == 0o640
    assert f"{one}: held by admin Root Admin (dashboard request {request})" in caplog.text
    # and the snapshot was published at once, showing the move
    assert status.read(config.relay.admin_dir).status.folders[HOLD].count == 2


@pytest.mark.parametrize("content, why", [
    ({"move": "chmod", "ids": ["0" * 24], "admin": "x", "at": 1}, "move 'chmod' is not one of"),
    ({"move": "delete", "ids": ["../../etc/passwd"], "admin": "x", "at": 1}, "not a queue id"),
    ({"move": "delete", "ids": ["0" * 24], "admin": "x", "at": 1, "folder": "/"}, "unknown key"),
    ({"move": "delete", "ids": [], "admin": "x", "at": 1}, "ids must be a list"),
    ({"move": "delete", "ids": ["0" * 24], "admin": "", "at": 1}, "admin must name"),
    ("not json at all", "not JSON"),
])
def test_a_malformed_request_is_refused_logged_and_does_nothing(config, caplog, content, why):
    kept = place_queued(config, DEFERRED)
    control = control_for(config)
    request_id = "ab" * 16
    body = content if isinstance(content, str) else json.dumps(content)
    (config.relay.admin_dir / REQUESTS / f"{request_id}.json").write_text(body)
    with caplog.at_level(logging.INFO, logger="relay"):
        control.run_once(time.time())
    assert f"dashboard request {request_id}.json refused: " in caplog.text and why in caplog.text
    assert read_result(config.relay.admin_dir, request_id).refused.startswith(why.split(" '")[0])
    assert not list((config.relay.admin_dir / REQUESTS).iterdir())
    queue = Queue.from_config(config)
    assert queue.locate(kept)[0] == DEFERRED


def test_a_request_the_parser_chokes_on_is_refused_and_the_ones_after_it_are_carried_out(
        config, caplog):
    """60 KB of "[" made the JSON parser raise RecursionError, which stopped every pass at
    that file: it was never removed, and each request sorting after it waited for ever."""
    kept, held = place_queued(config, DEFERRED), place_queued(config, DEFERRED)
    control = control_for(config)
    requests = config.relay.admin_dir / REQUESTS
    choking = "00" * 16                                   # sorts before any other request
    (requests / f"{choking}.json").write_bytes(b"[" * 60_000)
    later = submit(config.relay.admin_dir, "hold", [held], "Root")
    with caplog.at_level(logging.INFO, logger="relay"):
        control.run_once(time.time())
    assert f"dashboard request {choking}.json refused: not JSON: nested too deeply" in caplog.text
    assert read_result(config.relay.admin_dir, choking).refused.startswith("not JSON")
    assert read_result(config.relay.admin_dir, later).done == "held"
    assert not list(requests.iterdir())                   # both taken: the bad one removed
    queue = Queue.from_config(config)
    assert queue.locate(held)[0] == HOLD and queue.locate(kept)[0] == DEFERRED
    assert "cannot carry out dashboard requests" not in caplog.text


def test_any_failure_on_one_request_refuses_that_one_and_the_pass_goes_on(config, caplog,
                                                                           monkeypatch):
    """Whatever raises while one request is read (here a parser that fails in a way no one
    foresaw) refuses that request alone, saying why; the others are carried out."""
    from relay.admin import move_requests
    held = place_queued(config, DEFERRED)
    control = control_for(config)
    requests = config.relay.admin_dir / REQUESTS
    broken = "00" * 16
    (requests / f"{broken}.json").write_text(json.dumps(
        {"move": "delete", "ids": [held], "admin": "x", "at": 1}))
    later = submit(config.relay.admin_dir, "hold", [held], "Root")
    real_parse = move_requests.parse_request

    def parse(request_id, data):
        if request_id == broken:
            raise MemoryError("no memory left for this request")
        return real_parse(request_id, data)
    monkeypatch.setattr(move_requests, "parse_request", parse)
    with caplog.at_level(logging.INFO, logger="relay"):
        control.run_once(time.time())
    assert f"dashboard request {broken}.json refused: cannot be read: MemoryError: no memory" \
        in caplog.text
    assert read_result(config.relay.admin_dir, broken).refused.startswith("cannot be read")
    assert read_result(config.relay.admin_dir, later).done == "held"
    assert not list(requests.iterdir())
    assert Queue.from_config(config).locate(held)[0] == HOLD   # not deleted by the broken one


def test_who_asked_is_logged_on_one_line_whatever_the_request_file_says(config, caplog):
    held = place_queued(config, DEFERRED)
    control = control_for(config)
    forged = "Root\n2030-01-01 relay: all mail delivered\u2028" + "x" * 300
    submit(config.relay.admin_dir, "hold", [held], forged)
    with caplog.at_level(logging.INFO, logger="relay"):
        control.run_once(time.time())
    [line] = [r.getMessage() for r in caplog.records if f"{held}: held by admin" in r.getMessage()]
    assert "Root\\n2030-01-01 relay: all mail delivered\\u2028xxx" in line
    assert not any(c in line for c in "\r\n\u2028")


def test_a_symlink_or_a_stray_name_in_requests_is_refused_and_removed(config, caplog, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"move": "delete", "ids": ["0" * 24], "admin": "x", "at": 1}))
    requests = config.relay.admin_dir / REQUESTS
    control = control_for(config)
    (requests / f"{'cd' * 16}.json").symlink_to(secret)
    (requests / "please-delete-everything").write_text("{}")
    with caplog.at_level(logging.INFO, logger="relay"):
        control.run_once(time.time())
    assert "cannot be opened" in caplog.text and "not a request's name" in caplog.text
    assert not list(requests.iterdir()) and secret.exists()


def test_the_site_cannot_submit_what_the_relay_would_refuse(config):
    control_for(config)
    with pytest.raises(RequestRefused, match="not one of"):
        submit(config.relay.admin_dir, "rm -rf", ["0" * 24], "Root")
    assert not list((config.relay.admin_dir / REQUESTS).iterdir())


def test_the_folders_are_made_with_the_modes_the_layout_needs(config):
    control_for(config)
    modes = {sub: stat.S_IMODE(os.stat(config.relay.admin_dir / sub).st_mode)
             for sub in ("", REQUESTS, RESULTS)}
    assert modes == {"": 0o2710, REQUESTS: 0o3730, RESULTS: 0o2710}


def test_an_admin_dir_the_relay_cannot_make_does_not_stop_delivery(tmp_path, caplog):
    from tests.relay.relay_helpers import RunningRelay, drop_notification, wait_until
    from tests.smtp_servers import FaultyServer
    (tmp_path / "blocked").write_text("a file where the folder should be")
    with FaultyServer() as upstream:
        config = relay_config(tmp_path, upstream.port, admin_dir="blocked/admin")
        drop_notification(config)
        with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config):
            wait_until(lambda: len(upstream.received) == 1, what="the message sent")
    assert "cannot make the dashboard's folders" in caplog.text


def test_relay_check_says_when_the_dashboard_folder_lets_others_in(config):
    from relay.admin.check import admin_dir_checks
    control_for(config)
    [fine] = admin_dir_checks(config)
    assert fine.ok and not fine.warn
    os.chmod(config.relay.admin_dir / REQUESTS, 0o3733)
    [open_] = admin_dir_checks(config)
    assert not open_.ok and "others may read the queue's envelopes or ask for moves" in open_.detail
    os.chmod(config.relay.admin_dir / REQUESTS, 0o3730)
    os.chmod(config.pickup.dir, 0o3770)   # pickup writable by the group admin_dir is in
    [shared] = admin_dir_checks(config)
    assert shared.ok and shared.warn and "every writer of pickup may" in shared.detail


def test_a_snapshot_after_an_attempt_shows_it_and_a_gone_message_is_no_longer_listed(config):
    """The rows are kept between snapshots (relay.admin.shown_rows): what changed is read again."""
    kept = place_queued(config, DEFERRED, age=200, attempts=((451, "451 4.3.0 try later"),))
    leaving = place_queued(config, DEFERRED, age=100)
    control = control_for(config)
    control.publish(time.time(), force=True)
    first = status.read(config.relay.admin_dir)
    assert {m.row.id for m in first.messages[DEFERRED]} == {kept, leaving}

    queue = Queue.from_config(config)
    history = queue.history(kept)
    history.attempts.append(Attempt(time.time(), 452, "452 4.2.2 mailbox full", ["user@example.test"]))
    queue.save_history(kept, history)
    for path in files(queue.dirs[DEFERRED]):
        if path.name.startswith(leaving):
            path.unlink()
    time.sleep(0.05)
    control.publish(time.time(), force=True)
    second = status.read(config.relay.admin_dir)
    [shown] = second.messages[DEFERRED]
    assert shown.row.id == kept and shown.row.attempts == 2
    assert shown.row.last_error == "452 4.2.2 mailbox full"
    assert [a.code for a in shown.history] == [451, 452]
    [kept_before] = [m for m in first.messages[DEFERRED] if m.row.id == kept]
    assert shown.row.age >= kept_before.row.age   # ages go on from the snapshot's time
