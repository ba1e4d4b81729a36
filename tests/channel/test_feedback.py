"""The feedback line both ways: a line an earlier relay wrote reads back and writes out byte for
byte, and what is not a feedback line is refused with FeedbackLineError, saying why."""

from __future__ import annotations

import pytest

from channel.feedback import EXPIRED, REFUSED, FeedbackLine, FeedbackLineError, rotated

# Written by the relay before the line had a class: the same bytes must still read, and come out.
EARLIER = ('{"at": 1790000000.25, "queue_id": "0661f37e5e6817ce8529768a", "message_id": '
           '"<x@qa.example.test>", "recipient": "zoë@example.org", "kind": "refused", "code": 550, '
           '"status": "5.1.1", "reply": "550 5.1.1 <zoë@example.org>: no such user"}\n').encode()


def test_a_line_an_earlier_relay_wrote_reads_typed_and_writes_out_the_same_bytes():
    line = FeedbackLine.from_line(EARLIER)
    assert (line.recipient, line.kind, line.code, line.status) == ("zoë@example.org", REFUSED, 550, "5.1.1")
    assert line.at == 1790000000.25 and line.message_id == "<x@qa.example.test>"
    assert line.to_line().encode() == EARLIER


def test_an_expiry_without_a_reply_code_or_time_reads_with_none():
    line = FeedbackLine.from_line('{"kind": "expired", "recipient": "a@example.org", "reply": "expired"}')
    assert (line.kind, line.code, line.status, line.at, line.queue_id) == (EXPIRED, None, None, None, "")


@pytest.mark.parametrize("raw, why", [
    (b"not json", "not JSON"),
    (b'"a string"', "not a JSON object"),
    (b'{"recipient": ["a@example.org"], "kind": "refused"}', "recipient not text"),
    (b'{"recipient": "a@example.org", "kind": "refused", "status": 5}', "status not text"),
    (b'{"recipient": "a@example.org", "kind": "refused", "at": 1e999}', "at is not a time"),
    (b'{"recipient": "a@example.org", "kind": "refused", "at": NaN}', "at is not a time"),
    (b'{"recipient": "a@example.org", "kind": "refused", "at": "today"}', "at is not a time"),
    (b"[" * 60_000, "not JSON: nested too deeply"),
])
def test_what_is_not_a_feedback_line_is_refused_saying_why(raw, why):
    with pytest.raises(FeedbackLineError, match=why):
        FeedbackLine.from_line(raw)


def test_the_file_before_the_current_one_is_its_name_and_dot_1(tmp_path):
    assert rotated(tmp_path / "feedback.jsonl") == tmp_path / "feedback.jsonl.1"
