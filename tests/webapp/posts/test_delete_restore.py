"""Deleting asks first and can be undone: the confirmation page, Restore by the author or an
admin, and an answers heading that counts what the list shows (deleted answers apart, their
score nowhere)."""

from __future__ import annotations

import re

from tests.webapp.admin.test_moderation import admin
from tests.webapp.qa_helpers import answer, ask, comment, member, press, write_article


def answers_listed(html: str) -> int:
    """The answers in the page's main list (the deleted ones are in a section of their own)."""
    main = html.split('aria-label="Deleted answers"')[0]
    return len(re.findall(r'<li class="answer post', main))


def heading_count(html: str) -> int:
    return int(re.search(r'<h2 class="answer-count">(\d+) answer', html).group(1))


def test_delete_without_the_confirmation_only_asks(app, config):
    ann = member(app, config, "Ann")
    question_id = ask(ann)
    answer_id = answer(ann, question_id, "An answer I keep after all.")
    page = f"/questions/{question_id}"
    asked = ann.get(f"/answers/{answer_id}/delete").get_data(as_text=True)
    assert "Delete your answer?" in asked and "An answer I keep after all." in asked
    pressed = press(ann, page, f"/answers/{answer_id}/delete")   # the old one-click button
    assert pressed.status_code == 200 and "Yes, delete it" in pressed.get_data(as_text=True)
    html = app.test_client().get(page).get_data(as_text=True)
    assert "An answer I keep after all." in html and heading_count(html) == 1


def test_the_heading_counts_the_answers_listed_and_a_deleted_score_shows_nowhere(app, config):
    ann, bob, cat = (member(app, config, n) for n in ("Ann", "Bob", "Cat"))
    question_id = ask(ann)
    page = f"/questions/{question_id}"
    kept = answer(bob, question_id, "The answer that stays.")
    gone = answer(cat, question_id, "The answer that goes.")
    for voter in (ann, bob):
        press(voter, page, f"/answers/{gone}/vote", direction="up")
    press(cat, page, f"/answers/{gone}/delete", confirm="yes")
    for client in (app.test_client(), ann, cat):
        html = client.get(page).get_data(as_text=True)
        assert heading_count(html) == answers_listed(html) == 1
        assert "The answer that stays." in html and "The answer that goes." not in html
    deleted = cat.get(page).get_data(as_text=True).split('aria-label="Deleted answers"')[1]
    assert "deleted by its author" in deleted and 'title="score"' not in deleted
    assert "The answer that goes." not in ann.get("/members/3").get_data(as_text=True)
    assert kept


def test_the_author_restores_an_answer_with_its_text_and_score(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    page = f"/questions/{question_id}"
    answer_id = answer(bob, question_id, "Worth keeping after all.")
    press(ann, page, f"/answers/{answer_id}/vote", direction="up")
    press(bob, page, f"/answers/{answer_id}/delete", confirm="yes")
    assert press(ann, page, f"/answers/{answer_id}/restore").status_code == 403   # not hers
    assert bob.get(f"/answers/{answer_id}/delete").status_code == 403          # nothing to ask
    assert press(bob, page, f"/answers/{answer_id}/restore").status_code == 302
    html = app.test_client().get(page).get_data(as_text=True)
    assert "Worth keeping after all." in html and heading_count(html) == answers_listed(html) == 1
    assert '<span class="count" title="score">1</span>' in html


def test_an_admin_restores_any_post_and_a_member_only_their_own(app, config):
    ann, bob, root = member(app, config, "Ann"), member(app, config, "Bob"), admin(app)
    question_id, article_id = ask(ann), write_article(ann)
    comment_id = comment(bob, article_id, "A comment worth its place.")
    for path, page in ((f"/questions/{question_id}", f"/questions/{question_id}"),
                       (f"/articles/{article_id}", f"/articles/{article_id}"),
                       (f"/comments/{comment_id}", f"/articles/{article_id}")):
        author = bob if path.startswith("/comments") else ann
        press(author, page, f"{path}/delete", confirm="yes")
        assert "deleted by its author" in app.test_client().get(page).get_data(as_text=True)
        assert "Restore" not in app.test_client().get(page).get_data(as_text=True)
        assert "Restore" in root.get(page).get_data(as_text=True)
        assert press(root, page, f"{path}/restore").status_code == 302
    html = app.test_client().get(f"/articles/{article_id}").get_data(as_text=True)
    assert "deleted by its author" not in html and "A comment worth its place." in html
    assert press(ann, f"/questions/{question_id}", f"/questions/{question_id}/restore").status_code == 403
