"""status.json both ways: a document the relay wrote reads back typed and writes out the same, ages
are brought up to the reader's clock, anything else reads as no status, and the list filters."""

from __future__ import annotations

import copy
import json
import os
import stat

import pytest

from channel import status
from channel.status import MessageRow, Snapshot, matches

# A status.json as the relay has written it since version 1 (a relay, a refusal, a last error).
WRITTEN = {
    "version": 1, "at": 1800000000.0, "publisher": 4242,
    "status": {
        "config": "/etc/pickup-relay/config.toml",
        "folders": {f: {"count": n, "bytes": 219 * n, "oldest_age": 7200.5 if n else None}
                    for f, n in (("pickup", 0), ("active", 0), ("deferred", 1), ("hold", 0), ("badmail", 1))},
        "smarthost": {"host": "mx1.example.org", "port": 587, "reachable": False,
                      "detail": "cooling down until 2027-01-15 08:05:00 after: connection refused"},
        "smarthosts": [{"host": "mx1.example.org", "port": 587, "reachable": False,
                        "detail": "cooling down until 2027-01-15 08:05:00 after: connection refused",
                        "state": "cooling down", "cooling_until": 1800000100.0,
                        "last_error": "connection refused", "last_failed": 1799999990.0,
                        "last_answered": 1799990000.0}],
        "relays": [{"pid": 4242, "host": "mail1", "started": 1799990000.0, "uptime": 10000.0,
                    "supervisor": None}],
        "disk": {"path": "/var/spool/pickup-relay/pickup", "free_bytes": 83811414016,
                 "total_bytes": 270553174016, "free_inodes": 16339210, "total_inodes": 16777216,
                 "low_below_bytes": 13527658700, "low": False},
        "problems": ["badmail holds 1 message(s), 0 new in the last hour: see `relay list --folder badmail`"],
    },
    "activity": {"sent_last_minute": 2, "sent_last_5_minutes": 7, "per_minute": 1.4,
                 "smarthost": {"reachable": False, "detail": "connection refused", "at": 1799999990.0},
                 "last_error": {"reply": "connection refused", "at": 1799999990.0}},
    "messages": {
        "deferred": [{"id": "0661f37e5e6817ce8529768a", "folder": "deferred", "priority": "bulk",
                      "age": 7200.5, "size": 219, "sender": "news@example.org",
                      "recipients": ["ann@example.org", "bob@example.org"], "attempts": 1,
                      "next_attempt": 1800000600.0, "last_error": "451 4.3.0 try later",
                      "refused": [{"recipient": "bob@example.org", "reply": "550 5.1.1 no such user",
                                   "at": 1799999000.0}],
                      "history": [{"at": 1799999000.0, "code": 451, "reply": "451 4.3.0 try later",
                                   "recipients": ["ann@example.org"]}]}],
        "hold": [],
        "badmail": [{"id": "0661f52b85be10f3535c2b73", "folder": "badmail", "priority": "transactional",
                     "age": 60.0, "size": 223, "sender": "", "recipients": ["cid@example.org"],
                     "attempts": 0, "next_attempt": None, "last_error": "refused by the smart host",
                     "refused": [], "history": [], "reason": "reason: refused by the smart host\n"}],
    },
    "rows_per_folder": 500,
}


def test_a_document_the_relay_wrote_reads_typed_and_writes_out_the_same():
    snapshot = Snapshot.from_json(copy.deepcopy(WRITTEN))
    assert json.dumps(snapshot.to_json()) == json.dumps(WRITTEN)
    [deferred] = snapshot.messages["deferred"]
    assert deferred.row.recipients == ("ann@example.org", "bob@example.org")
    assert deferred.row.refused[0].recipient == "bob@example.org"
    assert deferred.history[0].code == 451 and deferred.reason is None
    assert snapshot.messages["badmail"][0].reason.startswith("reason:")
    assert snapshot.status.smarthosts[0].state == "cooling down"
    assert snapshot.status.relays[0].pid == 4242 and snapshot.status.disk.low is False
    assert snapshot.activity.last_error.reply == "connection refused"


def test_written_whole_with_the_mode_the_site_reads_by_and_aged_when_read(tmp_path):
    old = os.umask(0o077)   # the relay's
    try:
        status.write(tmp_path, Snapshot.from_json(copy.deepcopy(WRITTEN)))
    finally:
        os.umask(old)
    path = tmp_path / status.STATUS_NAME
    assert stat.S_IMODE(path.stat().st_mode) == status.SNAPSHOT_MODE == 0o640
    assert json.loads(path.read_bytes()) == WRITTEN and os.listdir(tmp_path) == [status.STATUS_NAME]
    seen = status.read(tmp_path, now=WRITTEN["at"] + 30)
    assert seen.age == 30
    assert seen.messages["deferred"][0].row.age == 7230.5
    assert seen.status.folders["deferred"].oldest_age == 7230.5
    assert seen.status.folders["pickup"].oldest_age is None


@pytest.mark.parametrize("content", [
    None, b"", b"{not json", b"[]", json.dumps({**WRITTEN, "version": 2}).encode(),
    json.dumps({k: v for k, v in WRITTEN.items() if k != "activity"}).encode(),
    json.dumps({**WRITTEN, "messages": {"deferred": [{"id": "x"}]}}).encode(),
])
def test_no_file_another_version_or_a_broken_one_reads_as_no_status(tmp_path, content):
    if content is not None:
        (tmp_path / status.STATUS_NAME).write_bytes(content)
    assert status.read(tmp_path) is None


ROW = MessageRow("0" * 24, "deferred", "transactional", 7200.0, 100, "News@Example.org",
                 ("ann@example.org", "Bob@Example.org"), 1, None, "")


@pytest.mark.parametrize("filters, shown", [
    ({}, True),
    ({"sender": "news"}, True), ({"sender": "noreply"}, False),
    ({"recipient": "BOB@"}, True), ({"recipient": "cid"}, False),
    ({"older_than": 3600.0}, True), ({"older_than": 86400.0}, False),
    ({"sender": "news", "recipient": "cid"}, False),
])
def test_the_filters_match_text_in_any_case_and_a_minimum_age(filters, shown):
    assert matches(ROW, **filters) is shown
