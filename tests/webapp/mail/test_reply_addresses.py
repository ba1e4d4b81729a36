"""Reply addresses: each member's notification of an answer or a comment carries their own
signed Reply-To while [webapp] reply_address is set, and none when it is empty; the token
survives lowercasing, and a changed, foreign or old one is refused."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from settings import ConfigError
from tests.configs import SITE, build_config
from tests.webapp.conftest import reconfigure
from tests.webapp.mail.test_digest import digests, run
from tests.webapp.mail.test_outbox import fan_out, follow, notifications, set_member
from tests.webapp.qa_helpers import answer, ask, comment, member, press, write_article
from webapp.accounts.models import User
from webapp.mail import reply_addresses
from webapp.mail.models import OutboxEvent
from webapp.mail.reply_addresses import DAY, ReplyAddresses, TokenExpired, TokenNotValid
from webapp.site.extensions import db

REPLY = "reply@qa.example.test"


def ids_by_address(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(db.select(User.email, User.id)).all())


def read_token(app, address: str, **kw):
    with app.test_request_context():
        return reply_addresses.read(reply_addresses.token_in(address), **kw)


def test_each_follower_gets_their_own_reply_to_naming_them_and_the_question(app, config):
    reconfigure(app, reply_address=REPLY)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cy")
    question_id = ask(ann)
    follow(app, "Cy", "question", question_id)
    answer(bob, question_id)
    fan_out(app)
    mails = notifications(config)
    ids = ids_by_address(app)
    assert len(mails) == 2
    seen = set()
    for mail in mails:
        reply_to = mail["Reply-To"].addresses[0].addr_spec
        assert reply_to.startswith("reply+") and reply_to.endswith("@qa.example.test")
        assert len(reply_to.split("@")[0]) <= 64
        named = read_token(app, reply_to)
        assert (named.member_id, named.thread_kind, named.thread_id) == (
            ids[mail["To"].addresses[0].addr_spec], "question", question_id)
        seen.add(reply_to)
        text = mail.get_body(("plain",)).get_content()
        assert "Reply to this mail to answer the question" in text
        assert "Reply to this mail" in mail.get_body(("html",)).get_content()
    assert len(seen) == 2


def test_a_comment_notification_names_the_article(app, config):
    reconfigure(app, reply_address=REPLY)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    article_id = write_article(ann)
    comment(bob, article_id)
    fan_out(app)
    (mail,) = notifications(config)
    named = read_token(app, mail["Reply-To"].addresses[0].addr_spec)
    assert (named.thread_kind, named.thread_id) == ("article", article_id)
    assert "Reply to this mail to comment on the article" in mail.get_body(("plain",)).get_content()


def test_no_reply_to_and_no_reply_line_when_reply_address_is_empty(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    fan_out(app)
    (mail,) = notifications(config)
    assert mail["Reply-To"] is None
    assert "Reply to this mail" not in mail.get_body(("plain",)).get_content()
    raw = next(config.pickup.dir.glob("n*.bulk.eml")).read_bytes()
    assert b"\r\nReply-To:" not in raw and b"reply+" not in raw


def test_an_accepted_answer_and_the_digest_carry_no_reply_address(app, config):
    reconfigure(app, reply_address=REPLY)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id)
    set_member(app, "Ann", notify_mode="daily")
    press(ann, f"/questions/{question_id}", f"/answers/{answer_id}/accept")
    fan_out(app)
    (accepted,) = notifications(config)
    assert accepted["Subject"].startswith("Your answer was accepted") and accepted["Reply-To"] is None
    run(app)
    digest = digests(config)["ann@example.org"]
    assert digest["Reply-To"] is None and "reply+" not in digest.as_string()


def test_the_stamped_reply_to_equals_the_slow_path(app, config):
    from spooler.envelope import envelope_lines, single_line
    from spooler.message import Address
    from webapp.mail import bulk_mail, notification_mail, unsubscribe

    reconfigure(app, reply_address=REPLY)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id)
    with app.test_request_context("/", base_url="http://qa.example.test"):
        event = db.session.execute(db.select(OutboxEvent)).scalar_one()
        mail = notification_mail.prepare(event)
        thread, post = notification_mail.load_posts(event)
        for user in db.session.execute(db.select(User)).scalars():
            reply_to = ReplyAddresses("question", question_id).address(user.id)
            link = unsubscribe.link(user.id, "question", question_id)
            slow = notification_mail.notification(event, thread, post, user.display_name, link, reply_to)
            slow.to = [Address(user.email, single_line(user.display_name))]
            slow.message_id = bulk_mail.delivery_message_id(event.id, user.id, "qa.example.test")
            expected = mail.stamp.slow_path(slow)
            stamped = mail.for_member(event.id, user)
            assert stamped == envelope_lines(expected.sender, expected.recipients) + expected.content
            parsed = email.message_from_bytes(expected.content, policy=email.policy.strict)
            assert parsed["Reply-To"] == reply_to


def test_a_token_read_in_any_case_names_the_same_member_and_thread(app):
    reconfigure(app, reply_address=REPLY)
    with app.test_request_context():
        address = ReplyAddresses("article", 7).address(42)
        token = reply_addresses.token_in(address)
        assert len(token) == reply_addresses.TOKEN_LENGTH and token == token.lower()
        for spelling in (address, address.upper(), f"<{address}>"):
            named = reply_addresses.read(reply_addresses.token_in(spelling))
            assert (named.member_id, named.thread_kind, named.thread_id) == (42, "article", 7)
        assert reply_addresses.token_in("reply@qa.example.test") is None
        assert reply_addresses.token_in(f"other+{token}@qa.example.test") is None
        assert reply_addresses.token_in(f"reply+{token}@elsewhere.example") is None


def test_a_changed_cut_or_foreign_token_is_not_valid(app):
    reconfigure(app, reply_address=REPLY)
    with app.test_request_context():
        token = ReplyAddresses("question", 3).token(5)
        changed = token[:-1] + ("a" if token[-1] != "a" else "b")
        for bad in (changed, token[:-2], token + "aa", "0" * len(token), "", "é" * len(token)):
            with pytest.raises(TokenNotValid):
                reply_addresses.read(bad)
    app.config["SECRET_KEY"] = "another key of the site, renewed since, 32+ bytes long"
    with app.test_request_context(), pytest.raises(TokenNotValid, match="renewed"):
        reply_addresses.read(token)


def test_a_token_works_for_reply_expiry_after_its_day_then_names_what_it_was_for(app):
    reconfigure(app, reply_address=REPLY, reply_expiry=30 * DAY)
    made = 1_750_000_000.0
    with app.test_request_context():
        token = ReplyAddresses("question", 3, now=made).token(5)
        assert reply_addresses.read(token, now=made + 30 * DAY).member_id == 5
        with pytest.raises(TokenExpired, match="30 days") as expired:
            reply_addresses.read(token, now=made + 31 * DAY)
        assert (expired.value.token.member_id, expired.value.token.thread_id) == (5, 3)
        assert reply_addresses.read(ReplyAddresses("question", 3).token(5)).thread_id == 3


@pytest.mark.parametrize("address, problem", [
    ("reply+x@example.org", "without a \"+\""),
    ("a-very-long-local-part-for-replies@example.org", "at most 20"),
    ("Replies <reply@example.org>", "not an address"),
])
def test_a_reply_address_that_cannot_take_a_token_is_a_config_error(tmp_path, address, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)) as error:
        build_config(tmp_path, SITE, webapp={"reply_address": address})
    assert "reply_address" in str(error.value)


def test_only_the_spelling_the_site_made_is_read_not_one_with_other_unused_bits(app):
    """The last base32 character carries bits no byte uses; another letter there decodes to
    the same bytes, and must not be taken for the token."""
    reconfigure(app, reply_address=REPLY)
    with app.test_request_context():
        token = ReplyAddresses("question", 3).token(5)
        same_bytes = [token[:-1] + c for c in "abcdefghijklmnopqrstuvwxyz234567" if c != token[-1]]
        assert reply_addresses.read(token).member_id == 5
        for other in same_bytes:
            with pytest.raises(TokenNotValid):
                reply_addresses.read(other)
