"""@mentions: a post that names @handle tells that member once, through the outbox fan-out,
with their settings and caps; the rendered post links the handle to their profile."""

from __future__ import annotations

from tests.webapp.accounts.test_auth import activated_member
from tests.webapp.conftest import post_form, reconfigure
from tests.webapp.mail.test_outbox import fan_out, follow, notifications, outcomes, set_member, to_of
from tests.webapp.mail.test_unsubscribe import link_to, user_id
from tests.webapp.qa_helpers import answer, ask, comment, member, write_article
from webapp.accounts.models import User
from webapp.mail.models import OutboxEvent
from webapp.site.extensions import db


def handle_of(app, name: str) -> str:
    with app.app_context():
        return db.session.execute(db.select(User.handle).filter_by(display_name=name)).scalar_one()


def mention_mails(config) -> list:
    return [m for m in notifications(config) if " mentioned you: " in m["Subject"]]


def test_members_get_a_handle_from_their_display_name_and_a_clash_gets_a_number(app, config):
    activated_member(app.test_client(), config, email="ada@example.org", name="Ada Lovelace")
    with app.app_context():
        db.session.add(User(email="ada2@example.org", display_name="Ada  Lovelace!", password_hash="x"))
        db.session.add(User(email="zoe@example.org", display_name="Zoë", password_hash="x"))
        db.session.commit()
    assert handle_of(app, "Ada Lovelace") == "ada_lovelace"
    assert handle_of(app, "Ada  Lovelace!") == "ada_lovelace2"
    assert handle_of(app, "Zoë") == "zoe"


def test_a_mention_in_an_answer_mails_the_member_and_links_to_their_profile(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    activated_member(app.test_client(), config, email="cat@example.org", name="Cat Stevens")
    question_id = ask(ann, title="Why is my WAL file growing?")
    answer_id = answer(bob, question_id, body="@cat_stevens knows this one; ada@example.org does not.")
    html = ann.get(f"/questions/{question_id}").get_data(as_text=True)
    profile = f"http://qa.example.test/members/{user_id(app, 'Cat Stevens')}"
    assert f'<a href="{profile}" class="mention" rel="nofollow ugc">@cat_stevens</a>' in html
    assert fan_out(app) == 2   # the answer (to its followers) and the mention
    [mail] = mention_mails(config)
    assert mail["To"] == "Cat Stevens <cat@example.org>"
    assert mail["Subject"] == "Bob mentioned you: Why is my WAL file growing?"
    text = mail.get_body(("plain",)).get_content()
    assert "Bob mentioned you in the question" in text
    assert f'href="{profile}"' in mail.get_body(("html",)).get_content()   # absolute in the mail
    assert '"handle">@cat_stevens<' in ann.get(profile.removeprefix("http://qa.example.test")).get_data(as_text=True)
    assert f"/questions/{question_id}#answer-{answer_id}" in text


def test_a_follower_who_is_mentioned_gets_one_mail_not_two(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id, body="@ann does this answer it?")
    fan_out(app)
    assert to_of(notifications(config)) == ["Ann <ann@example.org>"]
    [mail] = notifications(config)
    assert mail["Subject"].startswith("Bob mentioned you: ")
    with app.app_context():
        answer_event = db.session.execute(db.select(OutboxEvent.id).filter_by(kind="answer")).scalar_one()
    assert outcomes(app, answer_event) == {"Ann": "mentioned", "Bob": "author"}


def test_mentioning_yourself_or_a_stranger_does_nothing(app, config):
    ann = member(app, config, "Ann")
    question_id = ask(ann, body="Note to @ann and to @nobody_here: `@ann` in code is text.")
    with app.app_context():
        assert db.session.execute(db.select(OutboxEvent)).scalars().all() == []
    assert fan_out(app) == 0 and notifications(config) == []
    html = ann.get(f"/questions/{question_id}").get_data(as_text=True)
    assert "@nobody_here" in html and 'class="mention"' in html   # her own handle still links


def test_an_edit_tells_only_the_members_it_adds(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat"), member(app, config, "Dan")
    question_id = ask(ann)
    answer_id = answer(bob, question_id, body="Ask @cat about it.")
    fan_out(app)
    assert post_form(bob, f"/answers/{answer_id}/edit", body="Ask @cat or @dan.").status_code == 302
    fan_out(app)
    assert post_form(bob, f"/answers/{answer_id}/edit", body="Ask @cat or @dan, really.").status_code == 302
    fan_out(app)
    assert to_of(mention_mails(config)) == ["Cat <cat@example.org>", "Dan <dan@example.org>"]


def test_mentions_in_comments_and_articles_tell_the_member(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat")
    article_id = write_article(ann, body="Thanks to @cat for the review.")
    comment(bob, article_id, body="@cat agreed, and @ann too.")
    fan_out(app)
    assert sorted((str(m["To"]), m["Subject"]) for m in mention_mails(config)) == [
        ("Ann <ann@example.org>", "Bob mentioned you: Ten things about SQLite WAL mode"),
        ("Cat <cat@example.org>", "Ann mentioned you: Ten things about SQLite WAL mode"),
        ("Cat <cat@example.org>", "Bob mentioned you: Ten things about SQLite WAL mode"),
    ]


def test_a_mention_follows_the_members_settings_and_the_daily_cap(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat"), member(app, config, "Dan"), member(app, config, "Eve")
    set_member(app, "Cat", notify_mode="off")
    set_member(app, "Dan", notify_mode="daily")
    reconfigure(app, max_notifications_per_day=1)
    question_id = ask(ann)
    follow(app, "Eve", "question", question_id)
    answer(bob, question_id, body="First things first.")   # Eve's one mail today
    answer(bob, question_id, body="@cat @dan @eve see above.")
    fan_out(app)
    with app.app_context():
        event = db.session.execute(db.select(OutboxEvent.id).filter_by(kind="mention")).scalar_one()
    assert outcomes(app, event) == {"Cat": "opted_out", "Dan": "digest", "Eve": "cap"}
    assert mention_mails(config) == []


def test_the_mentions_unsubscribe_link_turns_notification_mail_off(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat")
    question_id = ask(ann)
    answer(bob, question_id, body="@cat, thoughts?")
    fan_out(app)
    link = link_to(config, "Cat", "Bob mentioned you")
    assert "notification" in app.test_client().get(link).get_data(as_text=True)
    assert app.test_client().post(link).status_code == 200
    with app.app_context():
        assert db.session.execute(db.select(User.notify_mode).filter_by(display_name="Cat")).scalar() == "off"
    answer(bob, question_id, body="@cat, again?")
    fan_out(app)
    assert len(mention_mails(config)) == 1
