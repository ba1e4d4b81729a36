"""The hold window ([webapp] notification_delay): the worker leaves an event alone until it is
due, so a post deleted in the window mails nobody and one edited in it is sent as edited."""

from __future__ import annotations

import time

from tests.webapp.conftest import post_form, reconfigure
from tests.webapp.mail.test_outbox import fan_out, notifications, outcomes
from tests.webapp.qa_helpers import answer, ask, member, press
from webapp.mail.models import OutboxEvent
from webapp.site.database import utcnow
from webapp.site.extensions import db


def end_the_window(app) -> None:
    """Make every held event due now, as if the window had passed."""
    with app.app_context():
        db.session.execute(db.update(OutboxEvent).values(not_before=utcnow()))
        db.session.commit()


def answered(app, config, delay: float, body="Use `for line in f:` on the open file."):
    reconfigure(app, notification_delay=delay)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    return question_id, answer(bob, question_id, body=body), bob


def test_with_a_delay_the_worker_sends_nothing_before_the_window_ends(app, config):
    answered(app, config, delay=600)
    assert fan_out(app) == 0 and notifications(config) == []
    with app.app_context():
        [event] = db.session.execute(db.select(OutboxEvent)).scalars()
        assert event.done_at is None and (event.not_before - event.created_at).total_seconds() == 600
    assert outcomes(app) == {}
    end_the_window(app)
    assert fan_out(app) == 1
    assert [str(m["To"]) for m in notifications(config)] == ["Ann <ann@example.org>"]


def test_the_event_goes_out_after_a_real_short_delay(app, config):
    answered(app, config, delay=1)
    posted = time.monotonic()
    assert fan_out(app) == 0 and notifications(config) == []
    time.sleep(max(0.0, 1.1 - (time.monotonic() - posted)))
    assert fan_out(app) == 1 and len(notifications(config)) == 1


def test_an_answer_deleted_within_the_window_mails_nobody(app, config):
    question_id, answer_id, bob = answered(app, config, delay=600)
    press(bob, f"/questions/{question_id}", f"/answers/{answer_id}/delete", confirm="yes")
    end_the_window(app)
    assert fan_out(app) == 1
    assert notifications(config) == []
    assert outcomes(app) == {"Ann": "post_gone", "Bob": "post_gone"}


def test_an_answer_edited_within_the_window_is_sent_as_edited(app, config):
    _question_id, answer_id, bob = answered(app, config, delay=600, body="Use `readlines()`, mostly.")
    response = post_form(bob, f"/answers/{answer_id}/edit", body="Iterate: `for line in f:` **lazily**.")
    assert response.status_code == 302
    end_the_window(app)
    fan_out(app)
    [mail] = notifications(config)
    text = mail.get_body(("plain",)).get_content()
    assert "> Iterate: `for line in f:` **lazily**." in text and "readlines" not in text
    assert "<strong>lazily</strong>" in mail.get_body(("html",)).get_content()
