"""What the outbox shows people: `outbox-status [--json]` as events are posted, claimed and
fanned out, its exit code, and `outbox-log --email` naming why a member got no mail."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.webapp.conftest import reconfigure
from tests.webapp.mail.test_outbox import fan_out, set_member
from tests.webapp.qa_helpers import answer, ask, member
from webapp.mail.fanout import FanoutWorker
from webapp.mail.models import OutboxEvent
from webapp.site.database import utcnow
from webapp.site.extensions import db


def status(app) -> tuple[dict, int]:
    result = app.test_cli_runner().invoke(args=["outbox-status", "--json"])
    return json.loads(result.output), result.exit_code


def age_events(app, seconds: float) -> None:
    """Make every open event due `seconds` ago."""
    with app.app_context():
        db.session.execute(db.update(OutboxEvent).values(not_before=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


def test_the_figures_follow_events_from_posted_to_claimed_to_done(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    assert status(app) == ({"waiting": 0, "in_progress": 0, "held": 0, "done_last_hour": 0,
                            "sent_last_hour": 0, "oldest_waiting_s": 0.0, "mail_waiting": 0,
                            "oldest_mail_waiting_s": 0.0}, 0)
    answer(bob, question_id)
    answer(bob, question_id, body="A second way: `f.readlines()`.")
    age_events(app, 30)
    figures, code = status(app)
    assert (figures["waiting"], figures["in_progress"], code) == (2, 0, 0)
    assert 30 <= figures["oldest_waiting_s"] < 60

    with app.app_context():
        worker = FanoutWorker()
        try:
            assert worker.claim() is not None   # leased and not yet worked on
        finally:
            worker.close()
    figures, _code = status(app)
    assert (figures["waiting"], figures["in_progress"]) == (1, 1)

    assert fan_out(app) == 2  # the closed worker's lease is taken over on its host
    figures, code = status(app)
    assert figures == {"waiting": 0, "in_progress": 0, "held": 0, "done_last_hour": 2,
                       "sent_last_hour": 2, "oldest_waiting_s": 0.0, "mail_waiting": 0,
                       "oldest_mail_waiting_s": 0.0}
    assert code == 0


def test_held_events_wait_without_counting_as_late(app, config):
    reconfigure(app, notification_delay=3600)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    figures, code = status(app)
    assert (figures["waiting"], figures["held"], figures["oldest_waiting_s"], code) == (1, 1, 0.0, 0)


def test_an_event_waiting_over_five_minutes_exits_1_and_the_table_says_so(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    age_events(app, 299)
    assert status(app)[1] == 0
    age_events(app, 301)
    figures, code = status(app)
    assert code == 1 and figures["oldest_waiting_s"] > 300
    table = app.test_cli_runner().invoke(args=["outbox-status"])
    assert table.exit_code == 1
    assert "waiting            1" in table.output and "oldest waiting s" in table.output


def test_outbox_log_names_the_reason_a_member_was_left_out(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    set_member(app, "Ann", notify_mode="off")
    answer(bob, question_id)
    fan_out(app)
    set_member(app, "Ann", notify_mode="instant")
    answer(bob, question_id, body="Another answer, mailed this time.")
    fan_out(app)
    runner = app.test_cli_runner()
    ann_log = runner.invoke(args=["outbox-log", "--email", "ann@example.org"]).output.splitlines()
    assert len(ann_log) == 2
    assert ann_log[0].endswith(f"(answer on question {question_id}): sent")
    assert ann_log[1].endswith(f"(answer on question {question_id}): left out: notifications off (opted_out)")
    bob_log = runner.invoke(args=["outbox-log", "--email", "bob@example.org"]).output
    assert bob_log.count("left out: you wrote it (author)") == 2
    missing = runner.invoke(args=["outbox-log", "--email", "nobody@example.org"])
    assert missing.exit_code == 1 and "no member with the address nobody@example.org" in missing.output
