"""relay.smtp.backoff: the host backoff the relay processes share."""

from __future__ import annotations

import os

from relay.smtp.backoff import HostBackoff

T0 = 1_800_000_000.0


def long_pause(backoff: HostBackoff, now: float) -> None:
    """Fail until the pause is the longest there is (1, 2, 4 ... 60 s)."""
    while backoff.failed(now) < backoff.cap:
        pass



def test_the_pause_doubles_from_one_second_to_sixty():
    backoff = HostBackoff()
    assert [backoff.failed(T0) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.paused(T0 + 59) and not backoff.paused(T0 + 60)


def test_a_pause_ends_within_half_a_second_of_another_process_finding_the_host_answering(tmp_path):
    note = tmp_path / "smarthost.up"
    waiting, recovered = HostBackoff(note=note), HostBackoff(note=note)
    long_pause(waiting, T0)
    recovered.failed(T0)
    assert waiting.paused(T0 + 5)
    recovered.answered(T0 + 6)
    assert not waiting.paused(T0 + 6.5)
    assert waiting.probing   # one message first: the host answered someone, not yet this process


def test_a_note_older_than_the_pause_does_not_end_it(tmp_path):
    note = tmp_path / "smarthost.up"
    waiting, other = HostBackoff(note=note), HostBackoff(note=note)
    other.answered(T0 - 1)
    long_pause(waiting, T0)
    assert all(waiting.paused(T0 + s) for s in (0.5, 1, 5, 30))


def test_a_process_that_was_never_down_still_tells_the_others_at_most_once_a_second(tmp_path):
    note = tmp_path / "smarthost.up"
    busy = HostBackoff(note=note)
    busy.answered(T0)
    busy.answered(T0 + 0.5)
    assert os.stat(note).st_mtime == T0
    busy.answered(T0 + 1)
    assert os.stat(note).st_mtime == T0 + 1


def test_a_process_coming_back_from_a_pause_tells_the_others_at_once(tmp_path):
    note = tmp_path / "smarthost.up"
    backoff = HostBackoff(note=note)
    backoff.answered(T0)
    backoff.failed(T0 + 0.1)
    backoff.answered(T0 + 0.2)
    assert os.stat(note).st_mtime == T0 + 0.2


def test_a_note_that_cannot_be_written_only_loses_the_speed_up(tmp_path):
    backoff = HostBackoff(note=tmp_path / "missing-folder" / "smarthost.up")
    backoff.failed(T0)
    backoff.answered(T0 + 1)
    assert not backoff.paused(T0 + 1) and not backoff.probing


def test_an_admins_retry_ends_the_pause_but_a_host_still_down_pauses_longer():
    backoff = HostBackoff()
    long_pause(backoff, T0)
    assert backoff.paused(T0 + 5)
    backoff.try_now()
    assert not backoff.paused(T0 + 5) and backoff.probing   # one message first
    assert backoff.failed(T0 + 6) == backoff.cap             # still down: no shorter pause
