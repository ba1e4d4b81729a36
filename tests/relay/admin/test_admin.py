"""relay.admin without the CLI: the status report's problem rules and per-id move results,
as a web dashboard will call them."""

from __future__ import annotations

from channel import status
from channel.moves import MoveName
from relay.admin.listing import STATUS_FOLDERS
from relay.admin.moves import MOVES, apply_move, select
from relay.admin.status import status_report
from relay.queue import folders
from relay.queue.folders import BADMAIL, DEFERRED, HOLD, Queue
from settings import load_config
from tests.relay.relay_helpers import files, place_queued, relay_config_file


def queue_of(config) -> Queue:
    queue = Queue.from_config(config)
    queue.create()
    return queue


def test_a_clean_queue_has_no_problems_and_each_rule_adds_its_own(tmp_path):
    config = load_config(relay_config_file(tmp_path, 1))
    queue = queue_of(config)
    assert status_report(config, queue, warn_age=3600, probe_smarthost=False).problems == []
    place_queued(config, DEFERRED, age=7200)
    place_queued(config, BADMAIL)
    report = status_report(config, queue, warn_age=3600, probe_smarthost=False)
    assert [p.split(" ")[0:2] for p in report.problems] == [["badmail", "holds"], ["oldest", "deferred"]]
    assert report.to_json()["folders"]["deferred"]["count"] == 1


def test_the_smart_host_being_down_is_a_problem_only_when_asked_about(tmp_path):
    config = load_config(relay_config_file(tmp_path, 1))  # nothing listens on port 1
    report = status_report(config, queue_of(config), warn_age=3600)
    assert report.smarthost.reachable is False and report.smarthost.unreachable
    assert report.problems == [f"smart host unreachable: {report.smarthost.detail}"]


def test_moves_report_each_id_and_keep_going_after_a_failure(tmp_path):
    config = load_config(relay_config_file(tmp_path, 1))
    queue = queue_of(config)
    first, second = place_queued(config, DEFERRED), place_queued(config, DEFERRED, sender="x@example.test")
    results = apply_move(queue, "hold", [first, "0" * 24, second])
    assert [(r.id, r.ok) for r in results] == [(first, True), ("0" * 24, False), (second, True)]
    assert "no such message" in results[1].error
    assert sorted(select(queue, HOLD)) == sorted([first, second])
    assert select(queue, HOLD, sender="x@example") == [second]
    (requeued,) = apply_move(queue, "requeue-badmail", [place_queued(config, BADMAIL)])
    assert requeued.ok and requeued.new_id and len(files(queue.dirs[DEFERRED])) == 1


def test_the_dashboards_folder_and_move_names_are_the_queues_own():
    assert (status.PICKUP, status.ACTIVE, status.DEFERRED, status.HOLD, status.BADMAIL) == (
        folders.PICKUP, folders.ACTIVE, folders.DEFERRED, folders.HOLD, folders.BADMAIL)
    assert STATUS_FOLDERS == (status.PICKUP, status.ACTIVE, status.DEFERRED, status.HOLD, status.BADMAIL)
    assert set(status.SHOWN_FOLDERS) <= set(folders.FOLDERS)
    assert list(MOVES) == list(MoveName) and all(m.folder in folders.FOLDERS for m in MoveName)
