"""A member's settings: name and mail preferences, a new password, a new address by link."""

from __future__ import annotations

import re

from tests.webapp.accounts.test_auth import PASSWORD, login
from tests.webapp.conftest import csrf_token, pickup_messages, post_form, reconfigure
from tests.webapp.qa_helpers import member
from webapp.accounts.models import User
from webapp.site.extensions import db

SETTINGS = "/account/settings"


def user(app, name="Ann") -> User:
    with app.app_context():
        found = db.session.execute(db.select(User).filter_by(display_name=name)).scalar_one()
        db.session.expunge(found)
        return found


def send(client, action: str, **fields):
    return client.post(action, data={"csrf_token": csrf_token(client, SETTINGS), **fields})


def test_new_members_get_the_defaults(app, config):
    ann = member(app, config, "Ann")
    page = ann.get(SETTINGS).get_data(as_text=True)
    assert '<input checked id="notify_mode-0" name="notify_mode" type="radio" value="away">' in page
    assert "When I&#39;m away: what I have not read on the site" in page and "Always, at once" in page
    saved = user(app)
    # The newsletter is opt-in: off unless asked for when registering.
    assert (saved.notify_mode, saved.newsletter, saved.follow_on_reply) == ("away", False, True)


def test_a_member_changes_name_and_mail_preferences(app, config):
    ann = member(app, config, "Ann")
    response = send(ann, SETTINGS, display_name="Ann B.", notify_mode="daily")  # boxes left unticked
    assert response.status_code == 302
    saved = user(app, "Ann B.")
    assert (saved.notify_mode, saved.newsletter, saved.follow_on_reply) == ("daily", False, False)
    assert "Ann B." in ann.get("/").get_data(as_text=True)
    assert send(ann, SETTINGS, display_name="Ann", notify_mode="hourly").status_code == 400


def test_a_new_password_needs_the_current_one_and_ends_the_other_sessions(app, config):
    ann = member(app, config, "Ann")
    other = app.test_client()
    assert login(other).status_code == 302
    wrong = send(ann, f"{SETTINGS}/password", current_password="not it", password="a new password",
                 confirm="a new password")
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
    right = send(ann, f"{SETTINGS}/password", current_password=PASSWORD, password="a new password",
                 confirm="a new password")
    assert right.status_code == 302
    assert ann.get(SETTINGS).status_code == 200           # this browser stays logged in
    assert other.get(SETTINGS).status_code == 302         # the other session is over
    assert login(app.test_client(), password="a new password").status_code == 302


def test_the_address_form_needs_the_current_password(app, config):
    ann = member(app, config, "Ann")
    before = len(pickup_messages(config))
    response = send(ann, f"{SETTINGS}/email", email="x@example.org", current_password="nope")
    assert response.status_code == 400 and len(pickup_messages(config)) == before


def test_every_settings_form_refuses_a_post_without_its_csrf_token(app, config):
    ann = member(app, config, "Ann")
    for action, fields in ((SETTINGS, {"display_name": "X", "notify_mode": "off"}),
                           (f"{SETTINGS}/password", {"current_password": PASSWORD}),
                           (f"{SETTINGS}/email", {"email": "x@example.org"})):
        assert ann.post(action, data=fields).status_code == 400, action
    assert post_form(ann, SETTINGS, display_name="Ann", notify_mode="off").status_code == 302


def test_recent_notifications_say_sent_or_why_not_in_words(app, config):
    from tests.webapp.mail.test_outbox import fan_out, set_member
    from tests.webapp.qa_helpers import answer, ask, press

    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    assert "No notifications yet" in ann.get(SETTINGS).get_data(as_text=True)
    question_id = ask(ann, title="Why is my <WAL> growing?")
    answer(bob, question_id)
    fan_out(app)
    set_member(app, "Ann", notify_mode="daily")
    answer(bob, question_id, body="Checkpoint it.")
    fan_out(app)
    set_member(app, "Ann", notify_mode="off")
    answer(bob, question_id, body="Or shorten the transactions.")
    fan_out(app)
    set_member(app, "Ann", notify_mode="instant")
    gone = answer(bob, question_id, body="Spam, deleted at once.")
    press(bob, f"/questions/{question_id}", f"/answers/{gone}/delete", confirm="yes")
    fan_out(app)
    page = ann.get(SETTINGS).get_data(as_text=True)
    section = page[page.index("<h2>Recent notifications</h2>"):page.index("<h2>Change your password")]
    outcomes = re.findall(r'<span class="outcome \w+">([^<]+)</span>', section)
    assert outcomes == ["not sent: post deleted", "not sent: notifications off",
                        "not sent: in your daily digest", "sent"]
    assert section.count(f'<a href="/questions/{question_id}">Why is my &lt;WAL&gt; growing?</a>') == 4
    assert "New answer on" in section
    bob_page = bob.get(SETTINGS).get_data(as_text=True)
    assert bob_page.count("not sent: you wrote it") == 3  # and the deleted one: gone for everyone
    assert bob_page.count("not sent: post deleted") == 1


def test_only_the_last_ten_outcomes_are_shown(app, config):
    from tests.webapp.mail.test_outbox import fan_out
    from tests.webapp.qa_helpers import answer, ask

    reconfigure(app, posts_per_minute=20)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    for n in range(12):
        answer(bob, question_id, body=f"Answer number {n}.")
    fan_out(app)
    page = ann.get(SETTINGS).get_data(as_text=True)
    assert page.count('<span class="outcome') == 10
