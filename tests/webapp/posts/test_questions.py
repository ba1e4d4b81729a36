"""Questions and answers through the test client: ask, answer, accept, vote, edit, delete."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from tests.webapp.conftest import post_form
from tests.webapp.posts.test_markdown import HOSTILE
from tests.webapp.qa_helpers import answer, ask, member, press
from webapp.posts.models import Answer, Question
from webapp.site.extensions import db


def answer_ids_in_order(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="answer[^"]*" id="answer-(\d+)"', html)]


def test_an_asked_question_is_stored_with_its_html_and_shown_to_everyone(app, config):
    ann = member(app, config, "Ann")
    question_id = ask(ann, body="Why does `x` **fail**?", tags="Python, sqlite python")
    with app.app_context():
        question = db.session.get(Question, question_id)
        assert question.body_html == "<p>Why does <code>x</code> <strong>fail</strong>?</p>\n"
        assert [t.name for t in question.tags] == ["python", "sqlite"]
    page = app.test_client().get(f"/questions/{question_id}").get_data(as_text=True)
    assert "<strong>fail</strong>" in page and "Log in</a> or" in page


def test_more_than_five_tags_are_refused_saying_so(app, config):
    ann = member(app, config, "Ann")
    response = post_form(ann, "/questions/ask", title="A question with many tags", body="Some body text",
                         tags="a b c d e f")
    assert response.status_code == 200 and "at most 5 tags" in response.get_data(as_text=True)


def test_hostile_markdown_is_harmless_on_the_page(app, config):
    ann = member(app, config, "Ann")
    question_id = ask(ann, body="\n\n".join(HOSTILE))
    answer(ann, question_id, "\n\n".join(HOSTILE))
    page = app.test_client().get(f"/questions/{question_id}").get_data(as_text=True)
    assert page.count('<div class="markdown">') == 2
    for post in re.findall(r'<div class="markdown">(.*?)</div>', page, re.S):
        assert "<script" not in post.lower() and "<iframe" not in post.lower() and "<svg" not in post
        assert not re.search(r"<[^>]+\son\w+\s*=", post, re.I)
        assert not re.search(r'<[^>]+href="\s*(javascript|data|vbscript):', post, re.I)


def test_the_asker_accepts_one_answer_which_is_shown_first_and_marked(app, config):
    ann, bob, cat = (member(app, config, n) for n in ("Ann", "Bob", "Cat"))
    question_id = ask(ann)
    first = answer(bob, question_id, "The first answer, plain text.")
    second = answer(cat, question_id, "The second answer, which is right.")
    page = f"/questions/{question_id}"
    assert press(ann, page, f"/answers/{second}/accept").status_code == 302
    html = ann.get(page).get_data(as_text=True)
    assert answer_ids_in_order(html) == [second, first]
    assert html.count("✓ Accepted answer") == 1
    press(ann, page, f"/answers/{first}/accept")  # the mark moves
    assert answer_ids_in_order(ann.get(page).get_data(as_text=True)) == [first, second]


def test_only_the_asker_can_accept(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id)
    refused = press(bob, f"/questions/{question_id}", f"/answers/{answer_id}/accept")
    assert refused.status_code == 403 and "Only the member who asked" in refused.get_data(as_text=True)


def test_members_vote_once_and_answers_are_ordered_by_score_then_date(app, config):
    ann, bob, cat, dan = (member(app, config, n) for n in ("Ann", "Bob", "Cat", "Dan"))
    question_id = ask(ann)
    older = answer(bob, question_id, "An older answer with no votes.")
    newer = answer(cat, question_id, "A newer answer that gets a vote.")
    page = f"/questions/{question_id}"
    assert answer_ids_in_order(dan.get(page).get_data(as_text=True)) == [older, newer]
    press(dan, page, f"/answers/{newer}/vote", direction="up")
    press(dan, page, f"/answers/{newer}/vote", direction="down")  # changes the vote, never adds one
    press(ann, page, f"/answers/{newer}/vote", direction="up")
    press(ann, page, f"/answers/{newer}/vote", direction="up")    # the same again takes it back
    with app.app_context():
        assert db.session.get(Answer, newer).score == -1
    press(ann, page, f"/answers/{newer}/vote", direction="up")
    press(dan, page, f"/answers/{newer}/vote", direction="up")
    html = dan.get(page).get_data(as_text=True)
    assert answer_ids_in_order(html) == [newer, older]
    assert '<span class="count" title="score">2</span>' in html


def test_a_visitor_reads_a_question_in_four_queries_whatever_its_answers_and_gets_no_cookie(app, config):
    ann, bob, cat = (member(app, config, n) for n in ("Ann", "Bob", "Cat"))
    question_id = ask(ann)
    answer(bob, question_id)
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda conn, cursor, sql, *rest: statements.append(sql))
    visitor = app.test_client()
    for author in (ann, cat):       # one answer, then two by two authors: the same four queries
        statements.clear()
        response = visitor.get(f"/questions/{question_id}")
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        assert len(statements) == 4, statements   # question + author, its tags, answers + authors, followers
        answer(author, question_id)


def test_nobody_votes_on_their_own_answer(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id)
    assert press(bob, f"/questions/{question_id}", f"/answers/{answer_id}/vote",
                 direction="up").status_code == 403


def test_an_author_edits_their_answer_and_it_says_edited(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id)
    edit = f"/answers/{answer_id}/edit"
    assert "for line in f:" in bob.get(edit).get_data(as_text=True)  # the form holds the source
    assert post_form(bob, edit, body="Use *pathlib* instead.").status_code == 302
    html = bob.get(f"/questions/{question_id}").get_data(as_text=True)
    assert "<em>pathlib</em>" in html and 'class="edited">edited <time' in html
    assert post_form(ann, edit, body="Ann rewrites Bob's answer").status_code == 403


def test_an_author_edits_their_question_title_and_tags(app, config):
    ann = member(app, config, "Ann")
    question_id = ask(ann)
    edit = f"/questions/{question_id}/edit"
    post_form(ann, edit, title="How do I read a big file lazily?", body="Lazily, please.", tags="python io")
    html = ann.get(f"/questions/{question_id}").get_data(as_text=True)
    assert "read a big file lazily" in html and '>io</a>' in html


def test_a_deleted_answer_leaves_no_text_and_its_author_sees_it_apart(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id, "A secret I regret posting.")
    page = f"/questions/{question_id}"
    assert press(ann, page, f"/answers/{answer_id}/delete", confirm="yes").status_code == 403  # not hers
    assert press(bob, page, f"/answers/{answer_id}/delete", confirm="yes").status_code == 302
    html = app.test_client().get(page).get_data(as_text=True)
    assert "regret" not in html and f'id="answer-{answer_id}"' not in html   # visitors: gone
    html = bob.get(page).get_data(as_text=True)
    assert "deleted by its author" in html and "regret" not in html and "Restore" in html
    with app.app_context():
        assert db.session.get(Question, question_id).answer_count == 0


def test_a_deleted_question_takes_no_answers(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    press(ann, f"/questions/{question_id}", f"/questions/{question_id}/delete", confirm="yes")
    html = bob.get(f"/questions/{question_id}").get_data(as_text=True)
    assert "deleted by its author" in html and "Your answer" not in html


def test_visitors_are_sent_to_log_in_before_asking(client):
    response = client.get("/questions/ask")
    assert response.status_code == 302 and "/account/login" in response.location


NEW_FORMS = [
    ("/questions/ask", {"title": "A title long enough", "body": "A body long enough", "tags": "x"}),
    ("/questions/{q}/answers", {"body": "An answer long enough"}),
    ("/questions/{q}/edit", {"title": "A title long enough", "body": "A body long enough", "tags": "x"}),
    ("/questions/{q}/delete", {}),
    ("/answers/{a}/edit", {"body": "An answer long enough"}),
    ("/answers/{a}/delete", {}),
    ("/answers/{a}/accept", {}),
    ("/answers/{a}/vote", {"direction": "up"}),
]


@pytest.mark.parametrize("path, fields", NEW_FORMS)
def test_every_post_form_refuses_a_post_without_its_csrf_token(app, config, path, fields):
    ann = member(app, config, "Ann")
    question_id = ask(ann)
    answer_id = answer(ann, question_id)
    response = ann.post(path.format(q=question_id, a=answer_id), data=fields)
    assert response.status_code == 400 and "Form expired" in response.get_data(as_text=True)


def test_a_tag_made_by_another_request_meanwhile_is_reused(app):
    from webapp.posts import rules
    from webapp.posts.models import Tag

    with app.app_context():
        with db.engine.begin() as other:  # another request committed the tag after our look-up
            other.execute(db.insert(Tag).values(name="fresh"))
        tag = rules._new_tag("fresh")
        db.session.commit()
        assert tag.name == "fresh"
        assert db.session.execute(db.select(db.func.count()).select_from(Tag)).scalar() == 1


def test_a_question_with_more_answers_than_a_page_shows_them_a_page_at_a_time(app, config):
    from webapp.accounts.models import User
    from webapp.posts import rules
    from webapp.posts.questions import ANSWERS_SHOWN

    ann = member(app, config, "Ann")
    question_id = ask(ann)
    with app.app_context():
        author = db.session.execute(db.select(User)).scalar_one()
        question = db.session.get(Question, question_id)
        for i in range(ANSWERS_SHOWN + 1):
            rules.answer(author, question, f"Answer number {i}")
        db.session.commit()
    first = app.test_client().get(f"/questions/{question_id}").get_data(as_text=True)
    assert len(answer_ids_in_order(first)) == ANSWERS_SHOWN and f"{ANSWERS_SHOWN + 1} answers" in first
    more = re.search(r'<a rel="next" href="([^"]+)">More answers', first).group(1).replace("&amp;", "&")
    second = app.test_client().get(more).get_data(as_text=True)
    assert answer_ids_in_order(second) == [ANSWERS_SHOWN + 1] and "« Best answers" in second
