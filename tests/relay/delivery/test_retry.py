"""relay.delivery.retry: the retry schedule's steps and jitter."""

from __future__ import annotations

import random

from relay.delivery.retry import RetrySchedule


def test_the_last_step_repeats_and_jitter_stays_within_ten_percent():
    schedule = RetrySchedule((60.0, 300.0))
    rng = random.Random(9)
    assert 54 <= schedule.delay(1, rng) <= 66
    assert all(270 <= schedule.delay(n, rng) <= 330 for n in (2, 3, 10))

