"""The relay's feedback file reaches the site: hard and soft failures mark members bouncing,
bouncing members get no notification and see a banner, confirming clears it, a line counts once,
and a line of the wrong shape is skipped, said and counted, never the end of the worker."""

from __future__ import annotations

import json
import logging
import os

import pytest

from tests.configs import SITE, build_config
from tests.webapp.conftest import csrf_token, site_app
from tests.webapp.mail.test_outbox import fan_out, notifications, outcomes
from tests.webapp.qa_helpers import answer, ask, member
from webapp.accounts.models import User
from webapp.mail import bounces
from webapp.mail.bounces import FeedbackRead
from webapp.site.extensions import db


def feedback_line(recipient: str, reply: str, kind: str = "refused", status: str | None = None,
                  code: int | None = 550) -> dict:
    return {"at": 1_790_000_000.0, "queue_id": "0" * 24, "message_id": "<x@qa.example.test>",
            "recipient": recipient, "kind": kind, "code": code, "status": status, "reply": reply}


def append(path, *lines) -> None:
    with open(path, "a") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


def read(app, path, soft_limit=3):
    with app.app_context():
        return bounces.read_feedback(path, soft_limit)


def bouncing(app, name: str):
    with app.app_context():
        return db.session.execute(db.select(User.bouncing_at, User.soft_bounces).filter_by(
            display_name=name)).one()


def test_a_hard_failure_marks_at_once_and_soft_ones_after_the_limit(app, config, tmp_path):
    member(app, config, "Ann"), member(app, config, "Bob")
    path = tmp_path / "feedback.jsonl"
    append(path, feedback_line("ann@example.org", "550 5.1.1 <ann@example.org>: no such user",
                               status="5.1.1"))
    append(path, *[feedback_line("bob@example.org", "552 5.2.2 mailbox full", status="5.2.2",
                                 code=552)] * 2)
    assert read(app, path) == FeedbackRead(3, 1)
    assert bouncing(app, "Ann")[0] is not None
    assert bouncing(app, "Bob") == (None, 2)
    append(path, feedback_line("bob@example.org", "expired after 2d", kind="expired", code=None))
    assert read(app, path) == FeedbackRead(1, 1)
    assert bouncing(app, "Bob")[0] is not None


def test_each_line_counts_once_and_a_rotation_loses_nothing(app, config, tmp_path):
    member(app, config, "Bob")
    path = tmp_path / "feedback.jsonl"
    soft = feedback_line("bob@example.org", "452 4.2.2 over quota", status="5.2.2", code=552)
    append(path, soft)
    assert read(app, path, soft_limit=10) == FeedbackRead(1, 0)
    assert read(app, path, soft_limit=10) == FeedbackRead(0, 0)
    with open(path, "a") as f:
        f.write(json.dumps(soft)[:20])           # half a line: the relay is still writing it
    assert read(app, path, soft_limit=10) == FeedbackRead(0, 0)
    with open(path, "a") as f:
        f.write(json.dumps(soft)[20:] + "\n")
    append(path, soft)
    os.rename(path, f"{path}.1")                 # rotated, with two lines not read yet
    append(path, soft)
    assert read(app, path, soft_limit=10) == FeedbackRead(3, 0)
    assert bouncing(app, "Bob") == (None, 4)


def test_a_bouncing_member_gets_no_notification_sees_the_banner_and_can_confirm(app, config, tmp_path):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    path = tmp_path / "feedback.jsonl"
    append(path, feedback_line("ann@example.org", "550 5.1.1 no such user", status="5.1.1"))
    read(app, path)
    answer(bob, ask(ann))
    fan_out(app)
    assert notifications(config) == [] and outcomes(app)["Ann"] == "bouncing"
    page = ann.get("/").get_data(as_text=True)
    assert "Our mail to ann@example.org is not being delivered" in page and "5.1.1" in page
    ann.post("/account/settings/address-ok", data={"csrf_token": csrf_token(ann, "/")})
    assert "is not being delivered" not in ann.get("/").get_data(as_text=True)
    assert bouncing(app, "Ann") == (None, 0)


def hard(recipient: str) -> bytes:
    return (json.dumps(feedback_line(recipient, f"550 5.1.1 <{recipient}>: no such user",
                                     status="5.1.1")) + "\n").encode()


# Lines no relay writes, each with what the log says of it. The deep one made the parser raise
# RecursionError, which went up through the outbox worker: it died, its cursor unmoved, and
# every restart died on the same line.
WRONG_SHAPE = [
    (json.dumps({**feedback_line("cat@example.org", "550 no"), "status": ["5.1.1"]}).encode(),
     "status not text"),
    (json.dumps(feedback_line("cat@example.org", "550 no"))
     .replace("1790000000.0", "1e999").encode(), "at is not a time"),
    (b"[" * 60_000, "not JSON: nested too deeply"),
]


def test_a_line_of_the_wrong_shape_is_skipped_said_and_counted_and_the_lines_after_it_count(
        app, config, tmp_path, caplog):
    for name in ("Ann", "Bob", "Cat"):
        member(app, config, name)
    path = tmp_path / "feedback.jsonl"
    path.write_bytes(hard("ann@example.org") + b"".join(raw + b"\n" for raw, _ in WRONG_SHAPE)
                     + hard("bob@example.org"))
    with caplog.at_level(logging.WARNING, logger="webapp.mail.bounces"):
        assert read(app, path) == FeedbackRead(lines=5, marked=2, skipped=3)
    at = len(hard("ann@example.org"))
    for raw, why in WRONG_SHAPE:                      # each said, with where to find it
        assert f"feedback file {path}: the line at byte {at} skipped: {why}" in caplog.text
        at += len(raw) + 1
    assert bouncing(app, "Ann")[0] is not None and bouncing(app, "Bob")[0] is not None
    assert bouncing(app, "Cat") == (None, 0)          # no line of the wrong shape counts
    assert read(app, path) == FeedbackRead(0, 0)      # read past them: said once, not each round


@pytest.fixture
def fed(tmp_path):
    """A site whose outbox worker reads a feedback file, and its config."""
    config = build_config(tmp_path, SITE, relay={"feedback_file": "var/feedback.jsonl"})
    (tmp_path / "var").mkdir(exist_ok=True)
    with site_app(config) as app:   # in set-up: the migration's logging config comes before caplog's
        yield app, config


def test_the_outbox_worker_outlives_a_bad_feedback_line_and_goes_on_fanning_out(fed, caplog):
    app, config = fed
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat")
    config.relay.feedback_file.write_bytes(b"[" * 60_000 + b"\n" + hard("cat@example.org"))
    answer(bob, ask(ann))
    with caplog.at_level(logging.INFO):
        assert fan_out(app) == 1                     # the worker read past the line, then fanned out
    assert [m["To"] for m in notifications(config)] == ["Ann <ann@example.org>"]
    assert bouncing(app, "Cat")[0] is not None       # the line after the bad one counted
    assert "the line at byte 0 skipped: not JSON: nested too deeply" in caplog.text
    assert "1 line(s) of the relay's feedback file skipped so far" in caplog.text

    with open(config.relay.feedback_file, "ab") as f:
        f.write(b'{"recipient": 5}\n' + hard("ann@example.org"))
    result = app.test_cli_runner().invoke(args=["read-feedback"])
    assert result.exit_code == 0
    assert "2 line(s) read, 1 address(es) marked bouncing, 1 line(s) skipped" in result.output


def test_a_database_failure_while_reading_feedback_is_said_and_the_worker_goes_on(fed, caplog):
    app, config = fed
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    config.relay.feedback_file.write_bytes(hard("cat@example.org"))
    with app.app_context():
        db.session.execute(db.text("DROP TABLE feedback_cursors"))   # where the cursor would move
        db.session.commit()
    answer(bob, ask(ann))
    with caplog.at_level(logging.INFO):
        assert fan_out(app) == 1
    assert [m["To"] for m in notifications(config)] == ["Ann <ann@example.org>"]
    assert f"cannot read the relay's feedback file {config.relay.feedback_file} now" in caplog.text
    assert "notifications go on" in caplog.text
