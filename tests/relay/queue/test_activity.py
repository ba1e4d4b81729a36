"""What one relay process tells the dashboard of its deliveries (relay.queue.activity), written to
and read back from a real queue folder as the publishing relay adds them up."""

from __future__ import annotations

import json
import os

from relay.queue.activity import FOLDER, SUFFIX, Activity, combined


def test_a_fast_drain_is_counted_whole_and_its_file_stays_small(tmp_path):
    activity, now = Activity(), 1_000_000.0
    for i in range(12_000):   # 200 a second for a minute
        activity.delivered(now - 60 + i / 200)
    activity.save(tmp_path, now)
    written = (tmp_path / FOLDER / f"{os.getpid()}{SUFFIX}").read_bytes()
    assert len(written) < 4_000   # a count per second, not a time per delivery
    seen = combined(tmp_path, [], now)
    assert seen["sent_last_5_minutes"] == 12_000
    assert 11_600 <= seen["sent_last_minute"] <= 12_000
    assert seen["per_minute"] == 2_400.0


def test_deliveries_older_than_five_minutes_are_no_longer_counted(tmp_path):
    activity, now = Activity(), 1_000_000.0
    for at in (now - 400, now - 350, now - 200, now - 30, now - 1):
        activity.delivered(at)
    activity.save(tmp_path, now)
    seen = combined(tmp_path, [], now)
    assert (seen["sent_last_minute"], seen["sent_last_5_minutes"]) == (2, 3)


def test_a_file_left_by_a_relay_of_the_earlier_version_still_counts(tmp_path):
    """The earlier format, one time per delivery, while a relay of each version shares a queue."""
    now = 1_000_000.0
    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / f"{os.getpid()}{SUFFIX}").write_text(json.dumps(
        {"at": now, "pid": os.getpid(), "sent": [now - 100, now - 10, now - 5],
         "host": {"reachable": True, "detail": "answered", "at": now}, "last_error": None}))
    seen = combined(tmp_path, [], now)
    assert (seen["sent_last_minute"], seen["sent_last_5_minutes"]) == (2, 3)
    assert seen["smarthost"]["reachable"] is True
