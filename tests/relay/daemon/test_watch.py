"""The pickup watcher on a real folder: when a file counts as complete, and a bounded memory."""

from __future__ import annotations

import os
import threading
import time

import pytest

from relay.daemon.watch import PickupWatcher
from tests.relay.relay_helpers import wait_until

OLD = time.time() - 60  # long settled


@pytest.fixture
def watcher(pickup_dir):
    w = PickupWatcher(pickup_dir, threading.Event(), settle=0.3, ready_cap=10)
    w.start()
    yield w
    w.stop()


def old_file(folder, name: str) -> None:
    path = folder / name
    path.write_bytes(b"To: a@example.test\r\n\r\nx\r\n")
    os.utime(path, (OLD, OLD))


def settled_events():
    time.sleep(0.3)  # let the watchdog thread deliver the writes' events first


def test_a_backlog_is_taken_in_batches_oldest_first(pickup_dir, watcher):
    names = [f"{n:024x}.eml" for n in range(50)]
    for name in reversed(names):  # newest first: the events see the newest names
        old_file(pickup_dir, name)
    settled_events()
    watcher.rescan()
    first = watcher.take_ready(100, 100)
    assert first[:10] == names[:10]  # the scan brought in the ten oldest
    assert len(first) <= 20  # never the whole folder: cap from events + cap from the scan
    for name in first:
        os.unlink(pickup_dir / name)  # claimed
    assert watcher.needs_rescan()  # more wait in the folder
    watcher.rescan()
    rest = sorted(set(names) - set(first))
    assert watcher.take_ready(100, 100) == rest[:10]


def test_transactional_names_come_before_bulk_ones(pickup_dir, watcher):
    old_file(pickup_dir, "a.bulk.eml")
    old_file(pickup_dir, "b.eml")
    settled_events()
    watcher.rescan()
    assert watcher.take_ready(100, 100) == ["b.eml", "a.bulk.eml"]


def test_a_file_renamed_into_place_is_ready_at_once(pickup_dir, watcher):
    temp = pickup_dir / ".x.tmp"
    temp.write_bytes(b"To: a@example.test\r\n\r\nx\r\n")
    os.rename(temp, pickup_dir / "x.eml")
    wait_until(lambda: watcher.take_ready(10, 10) == ["x.eml"], timeout=5, what="the moved event")


def ready_after_rechecks(watcher) -> list[str]:
    watcher.recheck()  # what the daemon does every 0.25 s while files wait to settle
    return watcher.take_ready(10, 10)


def test_a_file_still_open_for_writing_is_never_ready(pickup_dir, watcher):
    with open(pickup_dir / "slow.eml", "wb") as f:
        f.write(b"To: a@example.test\r\n")
        f.flush()
        time.sleep(0.8)  # longer than the settle time
        watcher.rescan()
        assert watcher.take_ready(10, 10) == []
        f.write(b"\r\nbody\r\n")
    wait_until(lambda: ready_after_rechecks(watcher) == ["slow.eml"], timeout=5,
               what="the closed file to settle")


def test_a_file_closed_in_place_waits_until_it_stands_still(pickup_dir, watcher):
    path = pickup_dir / "appended.eml"
    for part in (b"To: a@example.test\r\n", b"Subject: x\r\n", b"\r\n", b"body\r\n"):
        with open(path, "ab") as f:  # `echo ... >> pickup/x.eml`: open, write, close, again
            f.write(part)
        last_write = time.monotonic()
        time.sleep(0.2)  # shorter than the settle time
        assert ready_after_rechecks(watcher) == []
    wait_until(lambda: ready_after_rechecks(watcher) == ["appended.eml"], timeout=5,
               what="the appended file to settle")
    assert time.monotonic() - last_write >= 0.3  # the settle time after the last close


def test_a_file_renamed_in_from_another_folder_is_ready_at_once(pickup_dir, watcher, tmp_path):
    outside = tmp_path / "outside.eml"
    outside.write_bytes(b"To: a@example.test\r\n\r\nx\r\n")
    os.rename(outside, pickup_dir / "moved.eml")  # `mv` from elsewhere: complete by nature
    wait_until(lambda: watcher.take_ready(10, 10) == ["moved.eml"], timeout=0.25,
               what="the rename-in event alone, before any settle recheck")


@pytest.mark.parametrize("ahead", [3600, 86400])
def test_a_file_with_a_future_mtime_is_taken_once_it_stands_still(pickup_dir, watcher, ahead):
    path = pickup_dir / "future.eml"
    path.write_bytes(b"To: a@example.test\r\n\r\nx\r\n")
    os.utime(path, (time.time() + ahead,) * 2)  # a clock stepped back, or `touch -d`
    watcher.rescan()
    wait_until(lambda: ready_after_rechecks(watcher) == ["future.eml"], timeout=5,
               what="the future-dated file to settle")


def test_hidden_and_tmp_names_are_never_ready(pickup_dir, watcher):
    old_file(pickup_dir, ".hidden.eml")
    old_file(pickup_dir, "draft.tmp")
    settled_events()
    watcher.rescan()
    assert watcher.take_ready(10, 10) == []


def shared_backlog(pickup_dir) -> tuple[list[str], set[str], PickupWatcher]:
    """40 settled names, every other one this process's; its watcher after a scan (it keeps
    3 of the other's)."""
    names = [f"{n:024x}.eml" for n in range(40)]
    for name in names:
        old_file(pickup_dir, name)
    mine = set(names[0::2])
    w = PickupWatcher(pickup_dir, threading.Event(), settle=0.3, ready_cap=100,
                      ours=mine.__contains__, theirs_cap=3)
    w.rescan()
    return names, mine, w


def test_a_process_sharing_pickup_holds_its_own_names_and_only_the_oldest_of_the_others(pickup_dir):
    names, mine, w = shared_backlog(pickup_dir)
    taken = w.take_ready(100, 100)
    assert set(taken) == mine | set(names[1:7:2])   # all of its own; the other's three oldest
    assert w.needs_rescan()   # the other's newer names are still in the folder


def test_the_other_process_s_backlog_asks_for_a_scan_only_once_its_own_names_are_given_out(pickup_dir):
    # Two processes sharing pickup always leave the other's names in the folder: a scan of
    # the whole backlog each second for them cost more than the help was worth.
    _names, _mine, w = shared_backlog(pickup_dir)
    assert not w.needs_rescan()   # its own names are all held: nothing more of its own to find
    assert len(w.take_ready(10, 10)) == 10
    assert not w.needs_rescan()   # still some to give out
    w.take_ready(100, 100)
    assert w.needs_rescan()       # idle: now it helps with the other's


def test_a_scan_that_holds_other_names_keeps_a_settling_file_s_clock(pickup_dir):
    # A future-dated file settles by standing still. A scan that passes it over (older names
    # fill what it holds) must not restart its clock.
    w = PickupWatcher(pickup_dir, threading.Event(), settle=0.3, ready_cap=1)
    late = pickup_dir / "z.eml"
    late.write_bytes(b"To: a@example.test\r\n\r\nx\r\n")
    os.utime(late, (time.time() + 3600,) * 2)
    w.rescan()   # its clock starts
    started = time.monotonic()
    old_file(pickup_dir, "a.eml")
    w.rescan()   # holds a.eml only
    assert w.take_ready(10, 10) == ["a.eml"]
    os.unlink(pickup_dir / "a.eml")
    time.sleep(max(0.0, started + 0.35 - time.monotonic()))
    w.rescan()
    assert w.take_ready(10, 10) == ["z.eml"]
