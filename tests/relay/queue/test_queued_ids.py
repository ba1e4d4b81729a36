"""A writer's id already in the queue gets a new one, also when the dispatcher answers from a listing:
a message that arrived in deferred/ since, in the same clock tick, or in a folder too big to list."""

from __future__ import annotations

import os

from relay.queue import queued_ids
from relay.queue.claims import claim_from_pickup
from relay.queue.folders import ACTIVE, BADMAIL, DEFERRED, HOLD, Queue
from relay.queue.queued_ids import QueuedIds
from spooler.names import new_queue_id

GOOD = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nbody\r\n"


def make_queue(tmp_path) -> Queue:
    queue = Queue(tmp_path / "queue", tmp_path / "pickup")
    queue.create()
    return queue


def put(queue: Queue, folder: str, name: str) -> None:
    (queue.dirs[folder] / name).write_bytes(GOOD)


def test_an_id_queued_after_the_listing_is_found_at_the_next_refresh(tmp_path):
    queue = make_queue(tmp_path)
    queued = QueuedIds(queue)
    queued.refresh()
    late = new_queue_id()
    put(queue, DEFERRED, f"{late}.bulk.eml")   # the same tick as the listing, very likely
    queued.refresh()
    assert queued.holds(late)


def test_a_listing_made_in_the_tick_of_the_last_change_is_made_again(tmp_path):
    queue = make_queue(tmp_path)
    put(queue, HOLD, f"{new_queue_id()}.eml")
    queued = QueuedIds(queue)
    queued.refresh()
    # A change after the listing that left the folder's mtime as it was (a coarse clock):
    missed = new_queue_id()
    mtime = os.stat(queue.dirs[HOLD]).st_mtime_ns
    put(queue, HOLD, f"{missed}.eml")
    os.utime(queue.dirs[HOLD], ns=(mtime, mtime))
    queued.refresh()
    assert queued.holds(missed)


def test_a_folder_too_big_to_list_is_asked_per_id(tmp_path, monkeypatch):
    monkeypatch.setattr(queued_ids, "LIST_LIMIT", 3)
    queue = make_queue(tmp_path)
    ids = [new_queue_id() for _ in range(5)]
    for queue_id in ids:
        put(queue, BADMAIL, f"{queue_id}.eml")
    queued = QueuedIds(queue)
    queued.refresh()
    assert all(queued.holds(queue_id) for queue_id in ids)
    assert not queued.holds(new_queue_id())


def test_active_is_asked_per_id_as_it_changes_with_every_claim(tmp_path):
    queue = make_queue(tmp_path)
    queued = QueuedIds(queue)
    queued.refresh()
    in_flight = new_queue_id()
    put(queue, ACTIVE, f"{in_flight}.eml")   # no refresh since
    assert queued.holds(in_flight)


def test_a_pickup_file_named_like_a_deferred_message_is_claimed_under_a_new_id(tmp_path):
    queue = make_queue(tmp_path)
    queued = QueuedIds(queue)
    queue_id = new_queue_id()
    put(queue, DEFERRED, f"{queue_id}.eml")
    (queue.pickup / f"{queue_id}.eml").write_bytes(GOOD)   # a copy of a queued message
    queued.refresh()
    claimed = claim_from_pickup(queue, f"{queue_id}.eml", queued)
    assert claimed is not None and claimed.queue_id != queue_id
    assert (queue.dirs[DEFERRED] / f"{queue_id}.eml").read_bytes() == GOOD   # untouched
    fresh = new_queue_id()
    (queue.pickup / f"{fresh}.eml").write_bytes(GOOD)
    assert claim_from_pickup(queue, f"{fresh}.eml", queued).queue_id == fresh   # the writer's id kept
