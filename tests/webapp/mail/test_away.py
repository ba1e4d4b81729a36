"""Mail only when away ([webapp] mail_when_away): a member on "away" (the default) is mailed
only what they have not read on the site once the wait is over; digests list only what is
unread. Time is passed in (`now`), never slept."""

from __future__ import annotations

from datetime import timedelta

from tests.webapp.conftest import reconfigure
from tests.webapp.mail.test_digest import digests, run, text_of
from tests.webapp.mail.test_outbox import fan_out, follow, notifications, outcomes, set_member
from tests.webapp.qa_helpers import answer, ask, member
from webapp.mail.fanout import FanoutWorker
from webapp.site.database import utcnow

WAIT = 600.0


def after_the_wait(app, minutes: float = 11) -> int:
    """A worker's look for waited mails, as if `minutes` had passed; the mails it published."""
    with app.app_context():
        worker = FanoutWorker()
        try:
            return worker.send_away(now=utcnow() + timedelta(minutes=minutes))
        finally:
            worker.close()


def answered(app, config):
    reconfigure(app, mail_when_away=WAIT)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id)
    fan_out(app)
    return ann, bob, question_id


def test_nothing_is_mailed_within_the_wait(app, config):
    answered(app, config)
    assert notifications(config) == [] and outcomes(app)["Ann"] == "waiting"
    assert after_the_wait(app, minutes=9) == 0 and notifications(config) == []


def test_read_on_the_site_within_the_wait_no_mail_and_the_log_says_why(app, config):
    ann, _bob, question_id = answered(app, config)
    ann.get(f"/questions/{question_id}")
    assert after_the_wait(app) == 0 and notifications(config) == []
    assert outcomes(app)["Ann"] == "read_site"
    assert "read on the site" in ann.get("/account/settings").get_data(as_text=True)


def test_not_read_exactly_one_mail_after_the_wait(app, config):
    answered(app, config)
    assert after_the_wait(app) == 1
    assert after_the_wait(app, minutes=30) == 0
    assert fan_out(app) == 0
    [mail] = notifications(config)
    assert str(mail["To"]) == "Ann <ann@example.org>" and mail["Subject"].startswith("New answer: ")
    assert outcomes(app)["Ann"] == "sent"


def test_the_worker_loop_mails_it_once_the_wait_is_over(app, config):
    answered(app, config)
    reconfigure(app, mail_when_away=0.0)   # the wait, as if over: the loop's own clock takes it
    fan_out(app)
    assert len(notifications(config)) == 1


def test_always_mails_at_once_and_off_mails_nothing(app, config):
    reconfigure(app, mail_when_away=WAIT)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat")
    question_id = ask(ann)
    follow(app, "Cat", "question", question_id)
    set_member(app, "Ann", notify_mode="instant")
    set_member(app, "Cat", notify_mode="off")
    answer(bob, question_id)
    fan_out(app)
    assert [str(m["To"]) for m in notifications(config)] == ["Ann <ann@example.org>"]
    assert after_the_wait(app) == 0 and len(notifications(config)) == 1


def test_a_member_who_turns_mail_off_while_waiting_gets_none(app, config):
    answered(app, config)
    set_member(app, "Ann", notify_mode="off")
    assert after_the_wait(app) == 0 and notifications(config) == []
    assert outcomes(app)["Ann"] == "opted_out"


def test_the_digest_lists_only_what_is_still_unread(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    set_member(app, "Ann", notify_mode="daily")
    read_one = ask(ann, title="The question Ann reads on the site")
    unread_one = ask(ann, title="The question Ann does not open")
    answer(bob, read_one, body="Seen on the site already.")
    answer(bob, unread_one, body="Still news to Ann.")
    fan_out(app)
    ann.get(f"/questions/{read_one}")
    assert run(app).placed == 1
    text = text_of(digests(config)["ann@example.org"])
    assert "Still news to Ann." in text and "Seen on the site already." not in text


def test_a_digest_with_everything_read_is_not_sent(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    set_member(app, "Ann", notify_mode="daily")
    answer(bob, ask(ann))
    fan_out(app)
    ann.post("/notifications/read", data={"csrf_token": _token(ann)})
    assert run(app).placed == 0 and digests(config) == {}


def _token(client) -> str:
    from tests.webapp.conftest import csrf_token
    return csrf_token(client, "/notifications")


def test_outbox_status_counts_the_mails_waiting_and_says_when_one_is_late(app, config):
    import json

    from webapp.mail.models import OutboxDelivery
    from webapp.site.extensions import db

    answered(app, config)

    def status():
        result = app.test_cli_runner().invoke(args=["outbox-status", "--json"])
        return json.loads(result.output), result.exit_code

    figures, code = status()
    assert (figures["mail_waiting"], code) == (1, 0) and figures["oldest_mail_waiting_s"] < WAIT
    with app.app_context():   # no worker has sent it: 20 minutes past its wait of 10
        db.session.execute(db.update(OutboxDelivery).values(created_at=utcnow() - timedelta(minutes=30)))
        db.session.commit()
    figures, code = status()
    assert code == 1 and figures["oldest_mail_waiting_s"] >= 1800
    assert after_the_wait(app, minutes=0) == 1
    assert status() == ({**figures, "mail_waiting": 0, "oldest_mail_waiting_s": 0.0,
                         "sent_last_hour": figures["sent_last_hour"]}, 0)
