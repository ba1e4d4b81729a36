"""Notifications on the site: one per member from the fan-out, the bell's count, the
Notifications page newest first by keyset, read by opening the thread or "Mark all read"."""

from __future__ import annotations

import re

from sqlalchemy import insert

from tests.webapp.mail.test_outbox import fan_out, follow, set_member
from tests.webapp.qa_helpers import answer, ask, comment, member, press, write_article
from webapp.accounts.models import User
from webapp.mail.models import OutboxEvent
from webapp.notices import inbox
from webapp.notices.models import Notice
from webapp.site.database import utcnow
from webapp.site.extensions import db


def bell(client) -> int:
    """The unread count the top bar's bell shows on the home page."""
    page = client.get("/").get_data(as_text=True)
    shown = r'class="bell[^"]*" href="/notifications"\s+aria-label="Notifications, (\d+) unread"'
    return int(re.search(shown, page).group(1))


def notices_of(app, name: str) -> list[tuple[str, str, bool]]:
    with app.app_context():
        rows = db.session.execute(
            db.select(Notice.kind, Notice.thread_kind, Notice.read_at).join(User, User.id == Notice.user_id)
            .where(User.display_name == name).order_by(Notice.id)).all()
        return [(kind, thread_kind, read_at is not None) for kind, thread_kind, read_at in rows]


def test_every_member_an_event_is_about_gets_one_notification_whatever_their_mail_setting(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat"), member(app, config, "Dan")
    question_id = ask(ann)
    follow(app, "Cat", "question", question_id)
    follow(app, "Dan", "question", question_id)
    set_member(app, "Cat", notify_mode="off")
    set_member(app, "Dan", bouncing_at=utcnow())
    answer(bob, question_id)
    fan_out(app)
    fan_out(app)   # a second run adds nothing
    for name in ("Ann", "Cat", "Dan"):
        assert notices_of(app, name) == [("answer", "question", False)]
    assert notices_of(app, "Bob") == []   # the author is not told of their own answer
    assert bell(ann) == 1 and bell(bob) == 0


def test_accepting_and_commenting_notify_on_the_site_too(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id)
    fan_out(app)
    press(ann, f"/questions/{question_id}", f"/answers/{answer_id}/accept")
    article_id = write_article(bob)
    comment(ann, article_id)
    fan_out(app)
    assert notices_of(app, "Bob") == [("accepted", "question", False), ("comment", "article", False)]
    assert bell(bob) == 2


def test_the_page_lists_newest_first_says_what_happened_and_links_to_it(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    first = ask(ann, title="Why is my WAL file growing?")
    second = ask(ann, title="How do I vacuum?")
    answer(bob, first)
    second_answer = answer(bob, second)
    fan_out(app)
    page = ann.get("/notifications").get_data(as_text=True)
    assert page.index("How do I vacuum?") < page.index("Why is my WAL file growing?")
    assert f'href="/questions/{second}#answer-{second_answer}"' in page
    assert "New answer by Bob: How do I vacuum?" in page
    assert page.count("<strong>unread</strong>") == 2


def test_visitors_are_sent_to_log_in(client):
    response = client.get("/notifications")
    assert response.status_code == 302 and "/account/login" in response.location


def seed_notices(app, name: str, count: int) -> list[int]:
    """`count` notifications for the member straight in the table (one event), counter in step."""
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(display_name=name)).scalar_one()
        event = OutboxEvent(kind="answer", thread_kind="question", thread_id=1, post_id=1,
                            actor_id=user.id, done_at=utcnow())
        db.session.add(event)
        db.session.flush()
        events = [OutboxEvent(kind="answer", thread_kind="question", thread_id=1, post_id=1,
                              actor_id=user.id, done_at=utcnow()) for _ in range(count - 1)]
        db.session.add_all(events)
        db.session.flush()
        db.session.execute(insert(Notice), [
            {"user_id": user.id, "event_id": e.id, "kind": "answer", "thread_kind": "question",
             "thread_id": 1, "post_id": 1, "created_at": utcnow()} for e in [event, *events]])
        user.unread_notices = count
        db.session.commit()
        return sorted([event.id, *(e.id for e in events)])


def test_pages_go_back_by_keyset_with_no_row_twice_or_missed(app, config):
    member(app, config, "Ann")
    seed_notices(app, "Ann", 70)
    with app.app_context():
        user_id = db.session.execute(db.select(User.id).filter_by(display_name="Ann")).scalar_one()
        seen, before = [], None
        while True:
            page = inbox.page(user_id, before, size=30)
            seen += [n.id for n in page.items]
            if page.next_before is None:
                break
            before = page.next_before
        assert len(seen) == 70 and seen == sorted(seen, reverse=True)


def test_the_page_shows_an_older_link_when_there_are_more(app, config):
    ann = member(app, config, "Ann")
    seed_notices(app, "Ann", inbox.PAGE + 5)
    first = ann.get("/notifications").get_data(as_text=True)
    older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = ann.get(older).get_data(as_text=True)
    assert first.count('class="notice unread"') == inbox.PAGE
    assert second.count('class="notice unread"') == 5


def test_opening_the_question_marks_its_notifications_read_and_no_others(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    first, second = ask(ann, title="The first question"), ask(ann, title="The second question")
    answer(bob, first)
    answer(bob, first, body="Or `readline()` in a loop.")
    answer(bob, second)
    fan_out(app)
    assert bell(ann) == 3
    ann.get(f"/questions/{first}")
    assert bell(ann) == 1
    assert [read for _k, _t, read in notices_of(app, "Ann")] == [True, True, False]


def test_opening_the_article_marks_its_comments_read(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    article_id = write_article(ann)
    comment(bob, article_id)
    fan_out(app)
    assert bell(ann) == 1
    ann.get(f"/articles/{article_id}")
    assert bell(ann) == 0


def test_mark_all_read_clears_the_bell(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    answer(bob, ask(ann, title="Another question here"))
    fan_out(app)
    assert bell(ann) == 2
    response = press(ann, "/notifications", "/notifications/read")
    assert response.status_code == 302
    assert bell(ann) == 0
    assert all(read for _k, _t, read in notices_of(app, "Ann"))
    assert "unread" not in ann.get("/notifications").get_data(as_text=True).split("<h1>")[1]


def test_the_counter_equals_the_unread_rows_after_reads_and_new_events(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id)
    fan_out(app)
    ann.get(f"/questions/{question_id}")
    ann.get(f"/questions/{question_id}")   # a second opening takes nothing more off
    answer(bob, question_id, body="Or `readline()`.")
    fan_out(app)
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(display_name="Ann")).scalar_one()
        assert user.unread_notices == inbox.unread_by_member([user.id])[user.id] == 1


def test_a_follower_the_answer_mentions_has_one_notification_on_the_site_the_mention(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id, body="@ann does this answer it?")
    fan_out(app)
    fan_out(app)
    assert notices_of(app, "Ann") == [("mention", "question", False)]
    assert bell(ann) == 1
