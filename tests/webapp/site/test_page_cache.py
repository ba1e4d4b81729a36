"""The visitor page cache: cookieless visitors share a copy of a public page for page_cache_ttl,
members always get theirs fresh, and a change made in this process shows at once."""

from __future__ import annotations

import time

from tests.webapp.conftest import reconfigure
from tests.webapp.qa_helpers import answer, ask, member
from webapp.posts.models import Question
from webapp.site.extensions import db


def test_a_visitor_gets_the_kept_copy_until_it_expires(app, config):
    reconfigure(app, page_cache_ttl=0.5)   # read per process at start: set on the cache itself
    app.extensions["page_cache"].ttl = 0.5
    ann = member(app, config, "Ann")
    question_id = ask(ann, title="How do I read a file line by line?")
    visitor = app.test_client()
    first = visitor.get(f"/questions/{question_id}")
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    with app.app_context():   # a change another process made: this one's cache cannot know
        db.session.execute(db.text("UPDATE questions SET title = 'Changed elsewhere' WHERE id = :i"),
                           {"i": question_id})
        db.session.commit()
    again = visitor.get(f"/questions/{question_id}")
    assert again.get_data() == first.get_data()
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert "Changed elsewhere" in ann.get(f"/questions/{question_id}").get_data(as_text=True)  # a member
    time.sleep(0.6)
    assert "Changed elsewhere" in visitor.get(f"/questions/{question_id}").get_data(as_text=True)


def test_a_change_made_here_shows_to_visitors_at_once(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    visitor = app.test_client()
    assert "Use `for line" not in visitor.get(f"/questions/{question_id}").get_data(as_text=True)
    answer(bob, question_id, body="Use `for line in f:` on the open file.")
    assert "for line in f:" in visitor.get(f"/questions/{question_id}").get_data(as_text=True)
    with app.app_context():
        db.session.execute(db.update(Question).where(Question.id == question_id).values(title="Renamed"))
        db.session.commit()
    assert "Renamed" in visitor.get("/").get_data(as_text=True)


def test_only_cookieless_gets_of_public_pages_are_kept(app, config):
    ann = member(app, config, "Ann")
    ask(ann)
    cache = app.extensions["page_cache"]
    ann.get("/")                                           # a member: never kept
    app.test_client().get("/account/login")                # not a public page (and sets a cookie)
    assert list(cache.pages) == []
    app.test_client().get("/?x=1")
    assert list(cache.pages) == ["/?x=1"]
