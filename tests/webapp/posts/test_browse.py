"""The lists: home, newest and unanswered, tags, profiles and search, a page at a time."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from tests.webapp.admin.test_moderation import admin
from tests.webapp.conftest import post_form
from tests.webapp.qa_helpers import answer, ask, member, press
from webapp.accounts.models import User
from webapp.posts import rules
from webapp.posts.listing import PAGE_SIZE
from webapp.site.extensions import db


def titles(html: str) -> list[str]:
    return re.findall(r'<a class="title" href="[^"]+">([^<]+)</a>', html)


def older_link(html: str) -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def many_questions(app, n: int, tags=("python",)) -> None:
    with app.app_context():
        author = db.session.execute(db.select(User)).scalars().first()
        for i in range(n):
            rules.ask(author, f"Question number {i:03d} about things", "A body of some words", list(tags))
        db.session.commit()


def test_home_lists_the_newest_questions_a_page_at_a_time(app, config):
    member(app, config, "Ann")
    many_questions(app, PAGE_SIZE + 5)
    visitor = app.test_client()
    first = visitor.get("/").get_data(as_text=True)
    assert titles(first)[:2] == ["Question number 024 about things", "Question number 023 about things"]
    assert len(titles(first)) == PAGE_SIZE
    second = visitor.get(older_link(first)).get_data(as_text=True)
    assert titles(second) == [f"Question number {i:03d} about things" for i in range(4, -1, -1)]
    assert older_link(second) is None and "« Newest" in second


def test_unanswered_lists_only_questions_without_answers(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answered = ask(ann, title="This one gets an answer")
    ask(ann, title="This one waits for an answer")
    answer(bob, answered)
    html = app.test_client().get("/questions?tab=unanswered").get_data(as_text=True)
    assert titles(html) == ["This one waits for an answer"]
    assert app.test_client().get("/questions?tab=nonsense").status_code == 404


def test_a_tag_page_lists_its_questions(app, config):
    ann = member(app, config, "Ann")
    ask(ann, title="About SQLite locking", tags="sqlite")
    ask(ann, title="About Python imports", tags="python")
    html = app.test_client().get("/tags/sqlite").get_data(as_text=True)
    assert titles(html) == ["About SQLite locking"]
    assert app.test_client().get("/tags/no-such-tag").status_code == 404


def test_a_profile_lists_the_members_questions_and_answers(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann, title="Ann asks about profiles")
    answer(bob, question_id)
    with app.app_context():
        bob_id = db.session.execute(db.select(User.id).filter_by(display_name="Bob")).scalar_one()
    html = app.test_client().get(f"/members/{bob_id}").get_data(as_text=True)
    assert "<h1>Bob</h1>" in html and titles(html) == ["Ann asks about profiles"]  # under Answers


def test_hidden_and_deleted_questions_are_left_out_of_lists_and_search(app, config):
    ann, root = member(app, config, "Ann"), admin(app)
    hidden = ask(ann, title="A hidden question about kittens")
    deleted = ask(ann, title="A deleted question about kittens")
    ask(ann, title="A visible question about kittens")
    press(root, f"/questions/{hidden}", f"/moderation/questions/{hidden}/hide", reason="spam")
    press(ann, f"/questions/{deleted}", f"/questions/{deleted}/delete", confirm="yes")
    visitor = app.test_client()
    for path in ("/", "/questions", "/tags/python", "/search?q=kittens"):
        assert titles(visitor.get(path).get_data(as_text=True)) == ["A visible question about kittens"], path


def test_search_finds_questions_by_every_word_with_stemming(app, config):
    ann = member(app, config, "Ann")
    ask(ann, title="Reading large files in chunks", body="Memory runs out when I read it all.")
    ask(ann, title="Writing files atomically", body="Rename after fsync?")
    visitor = app.test_client()
    assert titles(visitor.get("/search?q=read+files").get_data(as_text=True)) == [
        "Reading large files in chunks"]
    assert titles(visitor.get("/search?q=files").get_data(as_text=True)) == [
        "Writing files atomically", "Reading large files in chunks"]
    assert titles(visitor.get("/search?q=fsync+memory").get_data(as_text=True)) == []


@pytest.mark.parametrize("query", ['"', "NOT", "files OR", "*", "-files", "title:files", "a AND (",
                                   "NEAR(", "'"])
def test_search_reads_operators_as_plain_words_never_as_an_error(app, config, query):
    member(app, config, "Ann")
    many_questions(app, 1)
    assert app.test_client().get("/search", query_string={"q": query}).status_code == 200


def test_search_follows_edits(app, config):
    ann = member(app, config, "Ann")
    question_id = ask(ann, title="Tuning the garbage collector", body="Old body words here.")
    post_form(ann, f"/questions/{question_id}/edit", title="Tuning the garbage collector",
              body="New text mentions generations.", tags="python")
    visitor = app.test_client()
    assert len(titles(visitor.get("/search?q=generations").get_data(as_text=True))) == 1
    assert titles(visitor.get("/search?q=old+body").get_data(as_text=True)) == []


def test_search_results_come_a_page_at_a_time(app, config):
    member(app, config, "Ann")
    many_questions(app, PAGE_SIZE + 3)
    visitor = app.test_client()
    first = visitor.get("/search?q=things&in=questions").get_data(as_text=True)
    assert len(titles(first)) == PAGE_SIZE
    assert len(titles(visitor.get(older_link(first)).get_data(as_text=True))) == 3


def test_no_page_counts_a_table_and_every_list_query_has_a_limit(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda conn, cursor, sql, *rest: statements.append(sql))
    visitor = app.test_client()
    for path in ("/", "/questions", "/questions?tab=unanswered", "/tags/python", "/members/1",
                 "/search?q=file", "/questions/1"):
        statements.clear()
        assert visitor.get(path).status_code == 200
        for sql in statements:
            if "count(" in sql.lower():  # only one post's followers, by index
                assert "subscriptions.target_id = ?" in sql, (path, sql)
            # A list has a LIMIT; a question's tags are at most five.
            if "ORDER BY" in sql and "tags.name" not in sql:
                assert "LIMIT" in sql, (path, sql)
