"""Notifications through the outbox: one event per post in the request, one file per follower
from the fan-out worker, and the reason recorded for everyone left out."""

from __future__ import annotations

import email
import email.policy
import quopri
import re

from tests.webapp.conftest import pickup_messages, reconfigure
from tests.webapp.qa_helpers import answer, ask, comment, member, press, write_article
from webapp.accounts.models import User
from webapp.mail.fanout import FanoutWorker
from webapp.mail.models import OutboxDelivery, OutboxEvent
from webapp.posts.models import Subscription
from webapp.site.database import utcnow
from webapp.site.extensions import db


def fan_out(app) -> int:
    with app.app_context():
        worker = FanoutWorker()
        try:
            return worker.run(lambda: False, once=True)
        finally:
            worker.close()


def notifications(config) -> list[email.message.EmailMessage]:
    """The notification mails in pickup (account mail has no List-Unsubscribe), parsed strictly."""
    found = []
    for path in sorted(config.pickup.dir.glob("n*.bulk.eml")):
        raw = path.read_bytes()
        found.append(email.message_from_bytes(raw.split(b"\r\n", 2)[2] if raw.startswith(b"X-Sender")
                                              else raw, policy=email.policy.strict))
    return found


def to_of(messages) -> list[str]:
    return sorted(str(m["To"]) for m in messages)


def outcomes(app, event_id=None) -> dict[str, str]:
    with app.app_context():
        query = db.select(User.display_name, OutboxDelivery.status).join(User)
        if event_id is not None:
            query = query.where(OutboxDelivery.event_id == event_id)
        return dict(db.session.execute(query).all())


def set_member(app, name: str, **values) -> None:
    with app.app_context():
        db.session.execute(db.update(User).filter_by(display_name=name).values(**values))
        db.session.commit()


def follow(app, name: str, kind: str, target_id: int) -> None:
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(display_name=name)).scalar_one()
        db.session.add(Subscription(user_id=user.id, kind=kind, target_id=target_id))
        db.session.commit()


def test_posting_an_answer_stores_one_event_and_writes_no_mail(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    before = len(pickup_messages(config))
    answer(bob, question_id)
    assert len(pickup_messages(config)) == before
    with app.app_context():
        events = db.session.execute(db.select(OutboxEvent)).scalars().all()
        assert [(e.kind, e.thread_id, e.done_at) for e in events] == [("answer", question_id, None)]


def test_followers_get_one_mail_each_and_everyone_left_out_has_a_reason(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    for name in ("Cat", "Dan", "Eve", "Fay"):
        member(app, config, name)
    question_id = ask(ann)
    for name in ("Cat", "Dan", "Eve", "Fay"):
        follow(app, name, "question", question_id)
    set_member(app, "Cat", notify_mode="off")
    set_member(app, "Dan", notify_mode="daily")
    set_member(app, "Eve", bouncing_at=utcnow())
    set_member(app, "Fay", activated_at=None)
    answer(bob, question_id)
    assert fan_out(app) == 1
    assert to_of(notifications(config)) == ["Ann <ann@example.org>"]
    assert outcomes(app) == {"Ann": "sent", "Bob": "author", "Cat": "opted_out", "Dan": "digest",
                             "Eve": "bouncing", "Fay": "inactive"}
    assert fan_out(app) == 0 and len(notifications(config)) == 1   # once, however often it runs


def test_the_mail_names_the_question_quotes_the_answer_and_links_to_it(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann, title="Why is my WAL file growing?")
    answer_id = answer(bob, question_id, body="Run a **checkpoint**: `PRAGMA wal_checkpoint`.")
    fan_out(app)
    [mail] = notifications(config)
    assert mail["Subject"] == "New answer: Why is my WAL file growing?"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hello Ann," in text and "> Run a **checkpoint**" in text
    assert "<strong>checkpoint</strong>" in html
    assert f"http://qa.example.test/questions/{question_id}#answer-{answer_id}" in text
    assert mail["Precedence"] == "bulk" and mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<http://qa\.example\.test/unsubscribe/[\w.-]+>", mail["List-Unsubscribe"])
    assert mail["List-Unsubscribe"][1:-1] in text and "/account/settings" in text


def test_notifications_of_one_question_thread_together(app, config):
    ann, bob, cat = member(app, config, "Ann"), member(app, config, "Bob"), member(app, config, "Cat")
    question_id = ask(ann)
    answer(bob, question_id)
    answer(cat, question_id, body="Or read it all with `f.read().splitlines()`.")
    fan_out(app)
    to_ann = [m for m in notifications(config) if "ann@" in str(m["To"])]
    assert len(to_ann) == 2
    roots = {(m["In-Reply-To"], m["References"]) for m in to_ann}
    assert roots == {(f"<question-{question_id}@qa.example.test>",) * 2}
    assert len({m["Message-ID"] for m in to_ann}) == 2


def test_a_post_deleted_before_the_fan_out_mails_nobody(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id)
    press(bob, f"/questions/{question_id}", f"/answers/{answer_id}/delete", confirm="yes")
    fan_out(app)
    assert notifications(config) == []
    assert outcomes(app)["Ann"] == "post_gone"


def test_accepting_tells_the_answerer_and_comments_tell_the_articles_followers(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id)
    press(ann, f"/questions/{question_id}", f"/answers/{answer_id}/accept")
    article_id = write_article(bob, title="Notes on fsync")
    comment(ann, article_id, body="Good notes.")
    fan_out(app)
    subjects = sorted((str(m["To"]), m["Subject"]) for m in notifications(config))
    assert subjects == [
        ("Ann <ann@example.org>", "New answer: How do I read a file line by line?"),
        ("Bob <bob@example.org>", "New comment: Notes on fsync"),
        ("Bob <bob@example.org>", "Your answer was accepted: How do I read a file line by line?"),
    ]


def test_the_daily_cap_holds_the_rest_for_the_digest(app, config):
    reconfigure(app, max_notifications_per_day=2)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    for n in range(3):
        answer(bob, question_id, body=f"Answer number {n}.")
    fan_out(app)
    assert len(notifications(config)) == 2
    with app.app_context():
        statuses = db.session.execute(db.select(OutboxDelivery.status).join(User).where(
            User.display_name == "Ann").order_by(OutboxDelivery.event_id)).scalars().all()
    assert statuses == ["sent", "sent", "cap"]


def test_every_stamped_message_equals_the_slow_path_and_parses_strictly(app, config):
    from spooler.envelope import envelope_lines, single_line
    from spooler.message import Address
    from spooler.stamp import slot
    from webapp.mail import bulk_mail, notification_mail, unsubscribe

    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id, body="Ünïcode *answer* with a long line " + "word " * 200)
    with app.test_request_context("/", base_url="http://qa.example.test"):
        for name, address in [("Zoë \"Z\" O'Neil", "zoe@example.org"), ("<b>Hi</b>", "b@example.org")]:
            db.session.add(User(email=address, display_name=name, password_hash="x", activated_at=utcnow()))
        db.session.commit()
        event = db.session.execute(db.select(OutboxEvent)).scalar_one()
        mail = notification_mail.prepare(event)
        thread, post = notification_mail.load_posts(event)
        for user in db.session.execute(db.select(User)).scalars():
            stamped = mail.for_member(event.id, user)
            link = unsubscribe.link(user.id, "question", question_id)
            slow = notification_mail.notification(event, thread, post, user.display_name, link)
            slow.to = [Address(user.email, single_line(user.display_name))]
            slow.message_id = bulk_mail.delivery_message_id(event.id, user.id, "qa.example.test")
            expected = mail.stamp.slow_path(slow)
            assert stamped == envelope_lines(expected.sender, expected.recipients) + expected.content
            parsed = email.message_from_bytes(expected.content, policy=email.policy.strict)
            assert parsed.get_body(("plain",)).get_content().startswith(f"Hello {user.display_name},")
            assert slot("name") not in stamped.decode("utf-8", "replace")
            assert quopri.decodestring(stamped).count(link.encode()) >= 2


def test_an_event_finished_by_another_worker_between_look_and_claim_is_not_claimed_again(app, config):
    """On SQLite the claim's SELECT locks nothing: another worker may claim and finish the event
    before this one's UPDATE; that UPDATE must then take nothing."""
    from sqlalchemy import event as sa_event

    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    with app.app_context():
        late = []

        def the_other_worker_first(conn, cursor, statement, *args):
            if statement.startswith("UPDATE outbox_events SET lease_token") and not late:
                late.append(True)
                with app.app_context():   # a session of its own, as another process has
                    assert fan_out(app) == 1

        sa_event.listen(db.engine, "before_cursor_execute", the_other_worker_first)
        try:
            worker = FanoutWorker()
            try:
                assert worker.claim() is None
            finally:
                worker.close()
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", the_other_worker_first)
    assert late and len(notifications(config)) == 1


def lose_commit_answers(app, error: Exception) -> FanoutWorker:
    """A FanoutWorker whose batch COMMITs happen, then raise `error`: as when the connection
    drops after the server committed. Use inside an app context."""
    worker = FanoutWorker()
    original_commit = worker._commit

    def commit_and_lose_the_answer(*args):
        session = db.session()
        committed, lost = session.commit, []

        def commit():
            committed()
            if not lost:   # the batch's COMMIT; not the check that may follow it
                lost.append(error)
                raise error

        session.commit = commit
        try:
            return original_commit(*args)
        finally:
            del session.commit

    worker._commit = commit_and_lose_the_answer
    return worker


def two_followers_and_an_answer(app, config) -> None:
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat")
    question_id = ask(ann)
    follow(app, "Cat", "question", question_id)
    answer(bob, question_id)


def test_a_batch_whose_commit_answer_is_lost_is_published_by_the_next_worker(app, config):
    """An unexpected error after the COMMIT happened ends the worker: its staged files must
    stay for recovery, which publishes them because the database says they were committed."""
    import pytest

    two_followers_and_an_answer(app, config)
    with app.app_context():
        worker = lose_commit_answers(app, ConnectionError("the answer to COMMIT was lost"))
        try:
            with pytest.raises(ConnectionError):
                worker.run(lambda: False, once=True)
        finally:
            worker.close()
    assert notifications(config) == [] and outcomes(app) == {"Ann": "sent", "Cat": "sent",
                                                             "Bob": "author"}
    assert fan_out(app) == 1
    assert to_of(notifications(config)) == ["Ann <ann@example.org>", "Cat <cat@example.org>"]
    assert sorted(p.name for p in config.pickup.dir.iterdir() if p.name.endswith(".tmp")) == []


def test_a_worker_whose_commit_fails_but_happened_publishes_the_batch_itself(app, config):
    from sqlalchemy.exc import OperationalError

    two_followers_and_an_answer(app, config)
    with app.app_context():
        lost = OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        worker = lose_commit_answers(app, lost)
        try:
            assert worker.run(lambda: False, once=True) == 1
        finally:
            worker.close()
    assert to_of(notifications(config)) == ["Ann <ann@example.org>", "Cat <cat@example.org>"]
    assert outcomes(app) == {"Ann": "sent", "Cat": "sent", "Bob": "author"}
    assert sorted(p.name for p in config.pickup.dir.iterdir() if p.name.endswith(".tmp")) == []


def test_a_worker_takes_back_at_once_an_event_it_let_go_of_and_others_on_the_host_wait(app, config):
    """After a batch fails to commit the worker keeps the lease; it retakes the event at once
    (no wait for the lease to expire), while another live worker on the host leaves it alone."""
    answer(member(app, config, "Bob"), ask(member(app, config, "Ann")))
    with app.app_context():
        worker, other = FanoutWorker(), FanoutWorker()
        try:
            first = worker.claim()
            assert first is not None and other.claim() is None
            again = worker.claim()
            assert again is not None and again.event_id == first.event_id
            assert again.token != first.token
        finally:
            worker.close()
            other.close()


def test_unsubscribe_tokens_are_what_itsdangerous_makes_and_reads(app):
    from itsdangerous import URLSafeSerializer

    from webapp.mail import unsubscribe

    with app.app_context():
        serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt="unsubscribe")
        for values in [(1, "question", 7), (123456789, "article", 2**40), (42, "newsletter", 0),
                       (5, "notifications", 0)]:
            token = unsubscribe.make_token(*values)
            assert token == serializer.dumps(list(values))
            assert serializer.loads(token) == list(values)
