"""The relay's feedback file reaches the site: hard and soft failures mark members bouncing,
bouncing members get no notification and see a banner, confirming clears it, a line counts once."""

from __future__ import annotations

import json
import os

from tests.webapp.conftest import csrf_token
from tests.webapp.mail.test_outbox import fan_out, notifications, outcomes
from tests.webapp.qa_helpers import answer, ask, member
from webapp.accounts.models import User
from webapp.mail import bounces
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
    assert read(app, path) == (3, 1)
    assert bouncing(app, "Ann")[0] is not None
    assert bouncing(app, "Bob") == (None, 2)
    append(path, feedback_line("bob@example.org", "expired after 2d", kind="expired", code=None))
    assert read(app, path) == (1, 1)
    assert bouncing(app, "Bob")[0] is not None


def test_each_line_counts_once_and_a_rotation_loses_nothing(app, config, tmp_path):
    member(app, config, "Bob")
    path = tmp_path / "feedback.jsonl"
    soft = feedback_line("bob@example.org", "452 4.2.2 over quota", status="5.2.2", code=552)
    append(path, soft)
    assert read(app, path, soft_limit=10) == (1, 0)
    assert read(app, path, soft_limit=10) == (0, 0)
    with open(path, "a") as f:
        f.write(json.dumps(soft)[:20])           # half a line: the relay is still writing it
    assert read(app, path, soft_limit=10) == (0, 0)
    with open(path, "a") as f:
        f.write(json.dumps(soft)[20:] + "\n")
    append(path, soft)
    os.rename(path, f"{path}.1")                 # rotated, with two lines not read yet
    append(path, soft)
    assert read(app, path, soft_limit=10) == (3, 0)
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
