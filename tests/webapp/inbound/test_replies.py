"""Replies by mail: a member's reply from their own address becomes an answer or a comment as
the web form would make it (rules, budget, followers told), and every other reply is refused
with a reason, or taken for the machine mail it is and left alone."""

from __future__ import annotations

import time
from email.policy import SMTP

import pytest

from tests.webapp.accounts.test_auth import activated_member, login
from tests.webapp.conftest import reconfigure
from tests.webapp.inbound.replying import (
    REPLY,
    member_id,
    refusal_mails,
    replies_on,
    reply,
    reply_message,
    take,
    token_for,
    write_drop,
)
from tests.webapp.inbound.signing import SigningDomain
from tests.webapp.mail.test_outbox import fan_out, notifications, set_member
from tests.webapp.qa_helpers import answer, ask, comment, member, write_article
from webapp.inbound.message import Handled, read_drop_file
from webapp.inbound.replies import take_reply
from webapp.mail.models import OutboxEvent
from webapp.mail.reply_addresses import DAY
from webapp.posts.models import Answer, Comment, Question
from webapp.site.database import utcnow
from webapp.site.extensions import db


@pytest.fixture
def question(app, config):
    """Ann asked a question; Bob, a member, may reply to it by mail. Its id."""
    replies_on(app)
    ann = member(app, config, "Ann")
    member(app, config, "Bob")
    return ask(ann)


def answers(app, question_id: int) -> list[Answer]:
    with app.app_context():
        found = db.session.execute(db.select(Answer).filter_by(question_id=question_id)).scalars().all()
        db.session.expunge_all()
        return found


def test_a_reply_from_the_members_address_in_any_case_is_posted_as_their_answer(app, config, tmp_path,
                                                                                 question):
    token = token_for(app, "Bob", "question", question)
    result = reply(app, tmp_path, token, from_="Bob <BOB@Example.ORG>")
    assert (result.handled, result.member_id) == (Handled.REPLY, member_id(app, "Bob"))
    [posted] = answers(app, question)
    assert posted.author_id == member_id(app, "Bob")
    assert posted.body_source == "Use `for line in f:` on the open file, it reads lazily."
    assert "<code>for line in f:</code>" in posted.body_html
    with app.app_context():
        assert db.session.get(Question, question).answer_count == 1
    assert refusal_mails(config) == []


def test_the_asker_is_told_of_an_answer_by_mail_as_of_one_from_the_web_form(app, config, tmp_path,
                                                                           question):
    reply(app, tmp_path, token_for(app, "Bob", "question", question))
    with app.app_context():
        assert [e.kind for e in db.session.execute(db.select(OutboxEvent)).scalars()] == ["answer"]
    fan_out(app)
    [mail] = notifications(config)
    assert mail["To"].addresses[0].addr_spec == "ann@example.org"
    assert "it reads lazily" in mail.get_body(("plain",)).get_content()


def test_a_reply_to_an_article_notification_is_posted_as_a_comment(app, config, tmp_path):
    replies_on(app)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    article = write_article(ann)
    comment(bob, article)
    token = token_for(app, "Ann", "article", article)
    result = reply(app, tmp_path, token, "Glad it helped, Bob.", from_="ann@example.org",
                   sender="ann@example.org")
    assert result.handled == Handled.REPLY
    with app.app_context():
        bodies = db.session.execute(db.select(Comment.body_source).filter_by(article_id=article)).scalars()
        assert list(bodies) == ["Thanks, this helped.", "Glad it helped, Bob."]


def test_the_quote_and_signature_are_not_posted_and_attachments_leave_a_note(app, config, tmp_path,
                                                                            question):
    token = token_for(app, "Bob", "question", question)
    message = reply_message("Read it lazily with a for loop.\n\n-- \nBob\n\n"
                            "On Sun, Dec 6, 2026 at 10:00 AM Q&A <noreply@example.test> wrote:\n"
                            "> Ann asked a question\n", token=token)
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="shot.png")
    assert take(app, write_drop(tmp_path, message, token), token).handled == Handled.REPLY
    [posted] = answers(app, question)
    assert posted.body_source == "Read it lazily with a for loop.\n\n(1 attachment not posted)"


def test_an_html_only_reply_is_posted_as_text(app, config, tmp_path, question):
    token = token_for(app, "Bob", "question", question)
    message = reply_message(token=token)
    message.set_content("<p>Iterate over the <b>file object</b> itself.</p><blockquote type='cite'>"
                        "<div>On Dec 6, 2026, at 10:00, Q&amp;A wrote:</div><div>Ann asked</div>"
                        "</blockquote>", subtype="html")
    assert take(app, write_drop(tmp_path, message, token), token).handled == Handled.REPLY
    assert [a.body_source for a in answers(app, question)] == ["Iterate over the file object itself."]


def test_take_reply_commits_nothing_the_worker_commits(app, config, tmp_path, question):
    token = token_for(app, "Bob", "question", question)
    path = write_drop(tmp_path, reply_message(token=token), token)
    with app.app_context():
        assert take_reply(read_drop_file(path), token).handled == Handled.REPLY
        db.session.rollback()
    assert answers(app, question) == []


def test_a_locked_question_refuses_the_reply_and_the_member_is_told_why(app, config, tmp_path, question):
    with app.app_context():
        db.session.get(Question, question).locked_at = utcnow()
        db.session.commit()
    result = reply(app, tmp_path, token_for(app, "Bob", "question", question))
    assert (result.handled, result.member_id) == (Handled.REPLY_REFUSED, member_id(app, "Bob"))
    assert "locked" in result.detail and answers(app, question) == []
    [(recipients, mail)] = refusal_mails(config)
    assert recipients == ("bob@example.org",)
    assert mail["Auto-Submitted"] == "auto-replied"
    assert "locked" in mail.get_body(("plain",)).get_content()


def test_a_deleted_question_refuses_the_reply(app, config, tmp_path, question):
    with app.app_context():
        db.session.get(Question, question).deleted_at = utcnow()
        db.session.commit()
    result = reply(app, tmp_path, token_for(app, "Bob", "question", question))
    assert result.handled == Handled.REPLY_REFUSED and "deleted" in result.detail


def test_a_reply_too_short_once_the_quote_is_cut_is_refused(app, config, tmp_path, question):
    text = "+1\n\nOn Sun, Dec 6, 2026 at 10:00 AM Q&A <noreply@example.test> wrote:\n> a long answer\n"
    result = reply(app, tmp_path, token_for(app, "Bob", "question", question), text)
    assert result.handled == Handled.REPLY_REFUSED and "2 characters were left" in result.detail
    assert answers(app, question) == [] and len(refusal_mails(config)) == 1


def test_a_reply_from_another_address_is_refused_and_only_the_member_is_told(app, config, tmp_path,
                                                                            question):
    result = reply(app, tmp_path, token_for(app, "Bob", "question", question),
                   from_="Mallory <mallory@attacker.test>", sender="mallory@attacker.test")
    assert result.handled == Handled.REPLY_REFUSED and "mallory@attacker.test" in result.detail
    assert answers(app, question) == []
    assert [recipients for recipients, _mail in refusal_mails(config)] == [("bob@example.org",)]


def test_a_members_address_with_another_members_token_is_refused(app, config, tmp_path, question):
    # Bob forges nothing he does not own: his From, but the reply address Ann's notification carried.
    result = reply(app, tmp_path, token_for(app, "Ann", "question", question))
    assert (result.handled, result.member_id) == (Handled.REPLY_REFUSED, member_id(app, "Ann"))
    assert answers(app, question) == []


def test_a_message_with_two_from_addresses_is_refused(app, config, tmp_path, question):
    result = reply(app, tmp_path, token_for(app, "Bob", "question", question),
                   from_="bob@example.org, mallory@attacker.test")
    assert result.handled == Handled.REPLY_REFUSED and answers(app, question) == []


def test_a_token_the_site_did_not_make_is_refused_and_nobody_is_mailed(app, config, tmp_path, question):
    token = token_for(app, "Bob", "question", question)
    forged = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    result = reply(app, tmp_path, forged)
    assert (result.handled, result.member_id) == (Handled.REPLY_REFUSED, None)
    assert answers(app, question) == [] and refusal_mails(config) == []


def test_an_expired_token_is_refused_and_the_member_is_told(app, config, tmp_path, question):
    old = token_for(app, "Bob", "question", question, now=time.time() - 40 * DAY)
    result = reply(app, tmp_path, old)
    assert result.handled == Handled.REPLY_REFUSED and "that time is over" in result.detail
    assert len(refusal_mails(config)) == 1 and answers(app, question) == []


def test_a_disabled_member_cannot_post_by_mail_and_is_not_mailed(app, config, tmp_path, question):
    token = token_for(app, "Bob", "question", question)
    set_member(app, "Bob", disabled_at=utcnow())
    result = reply(app, tmp_path, token)
    assert result.handled == Handled.REPLY_REFUSED and "disabled" in result.detail
    assert answers(app, question) == [] and refusal_mails(config) == []


@pytest.mark.parametrize("headers", [{"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"},
                                     {"X-Autoreply": "yes"}, {"Subject": "Out of Office: back Monday"}])
def test_auto_replies_are_never_posted_or_answered(app, config, tmp_path, question, headers):
    token = token_for(app, "Bob", "question", question)
    message = reply_message("I am away until Monday with no access to mail.", token=token)
    for name, value in headers.items():
        del message[name]
        message[name] = value
    result = take(app, write_drop(tmp_path, message, token), token)
    assert result.handled == Handled.AUTO_REPLY
    assert answers(app, question) == [] and refusal_mails(config) == []


def test_nothing_is_sent_to_a_null_sender(app, config, tmp_path, question):
    token = token_for(app, "Bob", "question", question)
    result = take(app, write_drop(tmp_path, reply_message(token=token), token, sender=""), token)
    assert result.handled == Handled.AUTO_REPLY
    assert answers(app, question) == [] and refusal_mails(config) == []


def test_a_reply_whose_dkim_signature_verifies_is_posted(app, config, tmp_path, question):
    token, signer = token_for(app, "Bob", "question", question), SigningDomain()
    signed = signer.sign(reply_message(token=token).as_bytes(policy=SMTP))
    result = take(app, write_drop(tmp_path, signed, token), token, dns=signer.keys())
    assert result.handled == Handled.REPLY


def test_a_reply_changed_after_its_dkim_signature_is_refused(app, config, tmp_path, question):
    token, signer = token_for(app, "Bob", "question", question), SigningDomain()
    signed = signer.sign(reply_message(token=token).as_bytes(policy=SMTP))
    changed = signed.replace(b"it reads lazily", b"it reads it all")
    result = take(app, write_drop(tmp_path, changed, token), token, dns=signer.keys())
    assert result.handled == Handled.REPLY_REFUSED and "DKIM" in result.detail
    assert answers(app, question) == [] and len(refusal_mails(config)) == 1


def test_replies_by_mail_share_the_web_forms_posting_budget(app, config, tmp_path, question):
    reconfigure(app, reply_address=REPLY, posts_per_minute=2)
    bob = app.test_client()
    assert login(bob, email="bob@example.org").status_code == 302
    answer(bob, question)
    token = token_for(app, "Bob", "question", question)
    assert reply(app, tmp_path, token).handled == Handled.REPLY
    result = reply(app, tmp_path, token, "A third answer within the same minute.")
    assert result.handled == Handled.REPLY_REFUSED and "2 times in the last minute" in result.detail
    assert len(answers(app, question)) == 2


def test_a_domain_that_refuses_unsigned_mail_must_have_signed_the_reply(app, config, tmp_path, question):
    """Yan's provider publishes DMARC p=reject: a forged, unsigned reply from Yan's address is
    refused, as is one signed by another domain; one signed by the provider is posted."""
    client = app.test_client()
    activated_member(client, config, email="yan@strictmail.net", name="Yan")
    token = token_for(app, "Yan", "question", question)
    provider, stranger = SigningDomain("strictmail.net"), SigningDomain("othermail.net")
    dmarc = {b"_dmarc.strictmail.net.": b"v=DMARC1; p=reject; rua=mailto:d@strictmail.net"}

    def dns(name: bytes, timeout: float = 5.0) -> bytes | None:
        return dmarc.get(name) or provider.keys()(name) or stranger.keys()(name)

    def sent_as_yan(text: str, signer: SigningDomain | None) -> bytes:
        message = reply_message(text, from_="Yan <yan@strictmail.net>", token=token)
        content = message.as_bytes(policy=SMTP)
        return signer.sign(content) if signer else content

    forged = take(app, write_drop(tmp_path, sent_as_yan("A forged answer in Yan's name, unsigned.", None),
                                  token, sender="yan@strictmail.net"), token, dns=dns)
    assert forged.handled == Handled.REPLY_REFUSED and "DMARC" in forged.detail
    elsewhere = take(app, write_drop(tmp_path, sent_as_yan("A forged answer, signed elsewhere.", stranger),
                                     token, sender="yan@strictmail.net"), token, dns=dns)
    assert elsewhere.handled == Handled.REPLY_REFUSED
    real = take(app, write_drop(tmp_path, sent_as_yan("Yan's own answer, signed by the provider.", provider),
                                token, sender="yan@strictmail.net"), token, dns=dns)
    assert real.handled == Handled.REPLY
    posted = [a.body_source.strip() for a in answers(app, question)]
    assert posted == ["Yan's own answer, signed by the provider."]
