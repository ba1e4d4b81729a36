"""The visitor page cache: cookieless visitors share a copy of a public page for page_cache_ttl,
members always get theirs fresh, and a change made in this process shows at once; what a
visitor sends (query strings, a script root, a host) neither grows it past page_cache_size nor
changes another visitor's page."""

from __future__ import annotations

import time

import pytest

from tests.configs import SITE, build_config
from tests.webapp.conftest import reconfigure, site_app
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
    app.test_client().get("/?before=1")
    assert list(cache.pages) == ["http://localhost/?before=1"]


@pytest.fixture
def small_cache(tmp_path):
    """A site whose processes keep at most 64 KB of pages (so none over 4 KB)."""
    config = build_config(tmp_path, SITE, webapp={"page_cache_size": "64KB"})
    with site_app(config) as app:
        yield app, config


def test_a_flood_of_query_strings_the_page_does_not_read_keeps_nothing_more(app, config):
    question_id = ask(member(app, config, "Ann"))
    cache = app.extensions["page_cache"]
    visitor = app.test_client()
    assert visitor.get(f"/questions/{question_id}").status_code == 200
    kept = list(cache.pages)
    for n in range(150):
        assert visitor.get(f"/questions/{question_id}?x={n}").status_code == 200
    assert list(cache.pages) == kept
    size = cache.size
    for n in range(50):   # an argument it reads given twice, or beside one it does not read
        visitor.get(f"/questions/{question_id}?from=0&from={n}")
        visitor.get(f"/questions/{question_id}?from={n}&x=1")
    assert list(cache.pages) == kept and cache.size == size


def test_the_pages_kept_never_pass_page_cache_size(small_cache):
    app, config = small_cache
    ann = member(app, config, "Ann")
    for n in range(3):
        ask(ann, title=f"Question number {n} about files?")
    cache, visitor = app.extensions["page_cache"], app.test_client()
    for before in range(1, 100):   # a page a visitor may ask for, each one distinct
        assert visitor.get(f"/questions?before={before}").status_code == 200
        assert cache.size <= 64_000
    assert len(cache.pages) > 10 and "http://localhost/questions?before=99" in cache.pages


def test_a_page_over_a_sixteenth_of_the_budget_is_rendered_for_each_visitor(small_cache):
    app, config = small_cache
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id, body="A long answer. " * 2000)
    cache, visitor = app.extensions["page_cache"], app.test_client()
    assert len(visitor.get(f"/questions/{question_id}").get_data()) > 4000
    assert visitor.get("/questions").status_code == 200
    assert list(cache.pages) == ["http://localhost/questions"]


def test_an_expired_page_is_let_go_when_the_next_is_kept(app, config):
    app.extensions["page_cache"].ttl = 0.2
    question_id = ask(member(app, config, "Ann"))
    cache, visitor = app.extensions["page_cache"], app.test_client()
    visitor.get(f"/questions/{question_id}")
    time.sleep(0.3)
    visitor.get("/questions")
    assert list(cache.pages) == ["http://localhost/questions"]


def test_a_script_root_host_or_scheme_one_visitor_sends_reaches_no_other(app, config):
    question_id = ask(member(app, config, "Ann"))
    path = f"/questions/{question_id}"
    cache = app.extensions["page_cache"]
    poisoned = app.test_client().get(path, base_url="http://localhost/evil")   # SCRIPT_NAME=/evil
    assert 'href="/evil/questions' in poisoned.get_data(as_text=True)
    app.test_client().get(path, base_url="https://evil.example")
    page = app.test_client().get(path).get_data(as_text=True)
    assert "/evil/" not in page and 'href="/questions' in page
    assert sorted(cache.pages) == [f"http://localhost/evil{path}", f"http://localhost{path}",
                                   f"https://evil.example{path}"]
