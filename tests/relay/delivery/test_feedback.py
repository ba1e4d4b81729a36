"""The feedback file: a JSON line for each recipient that failed for good, for the site to read."""

from __future__ import annotations

import json
import os
import stat

from channel.feedback import FeedbackLine
from relay.delivery.feedback import FeedbackFile
from relay.queue.folders import DEFERRED
from tests.relay.relay_helpers import RunningRelay, drop_notification, place_queued, relay_config, wait_until


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_recipient_refused_for_good_is_one_line_with_its_reply_and_message_id(tmp_path, upstream):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    config = relay_config(tmp_path, upstream.port, feedback_file="feedback.jsonl")
    written = drop_notification(config, to=["ok@example.test", "gone@example.test"])
    message_id = next(line for line in written.read_text().splitlines()
                      if line.lower().startswith("message-id:")).split(":", 1)[1].strip()
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 1, what="the refusal kept")
    feedback = tmp_path / "feedback.jsonl"
    (line,) = lines(feedback)
    assert (line["recipient"], line["kind"], line["code"], line["status"]) == (
        "gone@example.test", "refused", 550, "5.1.1")
    assert line["message_id"] == message_id and line["reply"] == "550 5.1.1 No such user"
    assert line["queue_id"] == written.name.split(".")[0]
    assert stat.S_IMODE(feedback.stat().st_mode) == 0o640  # the site reads it through the group


def test_an_expired_message_gives_a_line_per_recipient_still_owed_it(tmp_path, upstream):
    upstream.faults.rcpt_replies.update({"a@example.test": "451 4.2.2 Mailbox full",
                                         "b@example.test": "451 4.2.2 Mailbox full"})
    config = relay_config(tmp_path, upstream.port, feedback_file="feedback.jsonl",
                          max_lifetime="1h")
    place_queued(config, DEFERRED, to=("a@example.test", "b@example.test"), age=7200, due_in=-1)
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 1, what="the message expired")
    found = lines(tmp_path / "feedback.jsonl")
    assert sorted(x["recipient"] for x in found) == ["a@example.test", "b@example.test"]
    assert {x["kind"] for x in found} == {"expired"} and all("451" in x["reply"] for x in found)


def test_no_file_is_written_when_feedback_is_off(tmp_path, upstream):
    upstream.faults.rcpt_replies["gone@example.test"] = "550 5.1.1 No such user"
    config = relay_config(tmp_path, upstream.port)
    drop_notification(config, to=["gone@example.test"])
    with RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["badmail"] == 1, what="the refusal kept")
    assert not list(tmp_path.glob("*.jsonl"))


def test_rotation_keeps_every_line_in_the_file_or_the_one_before(tmp_path):
    path = tmp_path / "feedback.jsonl"
    feedback = FeedbackFile(path, rotate_at=2000)
    for n in range(30):
        line = FeedbackLine(float(n), "0" * 24, "", f"user{n}@example.test", "refused", 550, None,
                            "550 " + "x" * 40)
        feedback.append([line])
    rotated = path.with_name("feedback.jsonl.1")
    assert rotated.exists()
    kept = [int(x["at"]) for x in lines(rotated) + lines(path)]
    # rotated before a write that finds it over the size: at most one batch past it
    assert kept == list(range(kept[0], 30)) and os.path.getsize(path) < 2000 + len(line.to_line())
