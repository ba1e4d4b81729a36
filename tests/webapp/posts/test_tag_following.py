"""Followed tags: the Follow button on a tag's page, and a new question in a followed tag
told to the tag's followers once each (not its author), through the outbox fan-out."""

from __future__ import annotations

from sqlalchemy import func, insert

from tests.webapp.mail.test_outbox import fan_out, notifications, outcomes, to_of
from tests.webapp.mail.test_unsubscribe import following, link_to
from tests.webapp.posts.test_following import followers
from tests.webapp.qa_helpers import ask, member, press
from webapp.accounts.models import User
from webapp.mail.models import OutboxDelivery, OutboxEvent
from webapp.posts.models import Subscription, Tag
from webapp.site.database import utcnow
from webapp.site.extensions import db


def tag_id(app, name: str) -> int:
    with app.app_context():
        return db.session.execute(db.select(Tag.id).filter_by(name=name)).scalar_one()


def follow_tag(client, app, name: str):
    return press(client, f"/tags/{name}", f"/follow/tag/{tag_id(app, name)}")


def test_a_member_follows_and_unfollows_a_tag_from_its_page(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    ask(ann, tags="python files")
    html = bob.get("/tags/python").get_data(as_text=True)
    assert followers(html) == 0 and ">Follow</button>" in html
    response = follow_tag(bob, app, "python")
    assert response.status_code == 302 and response.location.endswith("/tags/python")
    follow_tag(bob, app, "python")   # twice is still once
    html = bob.get("/tags/python").get_data(as_text=True)
    assert followers(html) == 1 and ">Unfollow</button>" in html
    assert "questions tagged python" in bob.get("/following").get_data(as_text=True)
    press(bob, "/tags/python", f"/unfollow/tag/{tag_id(app, 'python')}")
    assert followers(bob.get("/tags/python").get_data(as_text=True)) == 0
    assert "questions tagged python" not in bob.get("/following").get_data(as_text=True)


def test_a_new_question_tells_each_follower_of_its_tags_once_and_not_its_author(app, config):
    ann, bob, cat = member(app, config, "Ann"), member(app, config, "Bob"), member(app, config, "Cat")
    dan = member(app, config, "Dan")
    ask(ann, title="How do I open a file?", tags="python files sqlite")
    follow_tag(bob, app, "python"), follow_tag(bob, app, "files")   # two of its tags: one mail
    follow_tag(cat, app, "sqlite"), follow_tag(ann, app, "python")
    follow_tag(dan, app, "files")
    question_id = ask(ann, title="Why is my WAL file growing?", tags="python sqlite")
    assert fan_out(app) == 1
    assert to_of(notifications(config)) == ["Bob <bob@example.org>", "Cat <cat@example.org>"]
    [mail, _] = notifications(config)
    assert mail["Subject"] == "New question: Why is my WAL file growing?"
    text = mail.get_body(("plain",)).get_content()
    assert "Ann asked \"Why is my WAL file growing?\" (tagged python, sqlite)" in text
    assert f"/questions/{question_id}\r\n" in text
    assert outcomes(app) == {"Ann": "author", "Bob": "sent", "Cat": "sent"}


def test_a_tag_follower_the_question_mentions_gets_one_mail(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    ask(ann, title="How do I open a file?", tags="python")
    follow_tag(bob, app, "python")
    ask(ann, title="How do I close a file?", body="What do you think, @bob?", tags="python")
    fan_out(app)
    [mail] = notifications(config)
    assert mail["To"] == "Bob <bob@example.org>"
    assert mail["Subject"] == "Ann mentioned you: How do I close a file?"


def test_a_question_in_tags_nobody_follows_makes_no_event(app, config):
    ann = member(app, config, "Ann")
    ask(ann, tags="python")
    with app.app_context():
        assert db.session.execute(db.select(func.count()).select_from(OutboxEvent)).scalar() == 0


def test_the_new_questions_unsubscribe_link_unfollows_its_tags(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    ask(ann, title="How do I open a file?", tags="python files")
    follow_tag(bob, app, "python"), follow_tag(bob, app, "files")
    ask(ann, title="How do I close a file?", tags="python files")
    fan_out(app)
    link = link_to(config, "Bob", "New question")
    assert "new questions in the tags of" in app.test_client().get(link).get_data(as_text=True)
    assert app.test_client().post(link).status_code == 200
    assert not following(app, "Bob", "tag", tag_id(app, "python"))
    assert not following(app, "Bob", "tag", tag_id(app, "files"))


def test_a_tag_with_10000_followers_mails_each_exactly_once(app, config):
    ann = member(app, config, "Ann")
    ask(ann, title="How do I open a file?", tags="python files")
    python, files = tag_id(app, "python"), tag_id(app, "files")
    with app.app_context():   # in bulk: 10,000 members, each following python, half files too
        first = db.session.execute(db.select(func.max(User.id))).scalar() + 1
        ids = range(first, first + 10_000)
        db.session.execute(insert(User), [
            {"id": i, "email": f"m{i}@example.org", "display_name": f"M{i}", "password_hash": "x",
             "activated_at": utcnow()} for i in ids])
        db.session.execute(insert(Subscription), [{"user_id": i, "kind": "tag", "target_id": t}
                                                  for i in ids for t in (python, files)[:1 + i % 2]])
        db.session.commit()
    ask(ann, title="How do I close a file?", tags="python files")
    assert fan_out(app) == 1 and fan_out(app) == 0
    files_ = sorted(config.pickup.dir.glob("n*.bulk.eml"))
    assert len(files_) == 10_000 and len({f.name.split(".")[0] for f in files_}) == 10_000
    with app.app_context():
        sent = db.session.execute(db.select(OutboxDelivery.user_id).filter_by(status="sent")).scalars()
        assert sorted(sent) == list(ids)
