"""The explanation of a refused reply: one mail a day at most to the member's own address,
answering their reply, and none to a member mail may not reach."""

from __future__ import annotations

from datetime import timedelta

from tests.webapp.inbound.replying import member_id, refusal_mails, replies_on, reply, token_for
from tests.webapp.mail.test_outbox import set_member
from tests.webapp.qa_helpers import ask, member
from webapp.inbound.message import Handled
from webapp.inbound.models import InboundMessage
from webapp.posts.models import Question
from webapp.site.database import utcnow
from webapp.site.extensions import db


def locked_question(app, config) -> int:
    replies_on(app)
    ann = member(app, config, "Ann")
    member(app, config, "Bob")
    question = ask(ann)
    with app.app_context():
        db.session.get(Question, question).locked_at = utcnow()
        db.session.commit()
    return question


def test_two_refused_replies_the_same_day_make_one_mail(app, config, tmp_path):
    question = locked_question(app, config)
    token = token_for(app, "Bob", "question", question)
    first, second = reply(app, tmp_path, token), reply(app, tmp_path, token, "Trying once more today.")
    assert first.handled == second.handled == Handled.REPLY_REFUSED
    assert "(the member was told)" in first.detail and "not told" in second.detail
    [(recipients, mail)] = refusal_mails(config)
    assert recipients == ("bob@example.org",)
    assert mail["Subject"] == "Your reply was not posted: How do I read a file line by line?"
    assert mail["In-Reply-To"].startswith("<r") and mail["To"].addresses[0].addr_spec == "bob@example.org"


def test_a_refusal_a_day_later_is_told_again(app, config, tmp_path):
    question = locked_question(app, config)
    token = token_for(app, "Bob", "question", question)
    reply(app, tmp_path, token)
    with app.app_context():
        db.session.execute(db.update(InboundMessage).values(handled_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    reply(app, tmp_path, token)
    assert len(refusal_mails(config)) == 2


def test_another_members_refusals_do_not_count_against_this_one(app, config, tmp_path):
    question = locked_question(app, config)
    with app.app_context():   # a refusal of Ann's an hour ago, as the worker recorded it
        db.session.add(InboundMessage(file_name="earlier", handled=Handled.REPLY_REFUSED,
                                      member_id=member_id(app, "Ann")))
        db.session.commit()
    reply(app, tmp_path, token_for(app, "Bob", "question", question))
    assert [recipients for recipients, _mail in refusal_mails(config)] == [("bob@example.org",)]


def test_a_bouncing_member_is_not_mailed(app, config, tmp_path):
    question = locked_question(app, config)
    token = token_for(app, "Bob", "question", question)
    set_member(app, "Bob", bouncing_at=utcnow())
    assert reply(app, tmp_path, token).handled == Handled.REPLY_REFUSED
    assert refusal_mails(config) == []
