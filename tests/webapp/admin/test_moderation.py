"""Admins hide posts (with a reason) and lock questions; members post at a limited rate."""

from __future__ import annotations

import pytest

from tests.configs import SITE, build_config
from tests.webapp.accounts.test_auth import PASSWORD, login
from tests.webapp.conftest import csrf_token, post_form, site_app
from tests.webapp.qa_helpers import answer, ask, member, press


def admin(app):
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "root@example.org",
                                                "--name", "Root", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert login(client, email="root@example.org").status_code == 302
    return client


def test_a_hidden_question_is_seen_only_by_admins_and_its_author_with_the_reason(app, config):
    ann, bob, root = member(app, config, "Ann"), member(app, config, "Bob"), admin(app)
    question_id = ask(ann)
    page = f"/questions/{question_id}"
    assert press(root, page, f"/moderation/questions/{question_id}/hide",
                 reason="Asked three times already").status_code == 302
    assert bob.get(page).status_code == 404
    assert app.test_client().get(page).status_code == 404
    for client in (ann, root):
        html = client.get(page).get_data(as_text=True)
        assert "Hidden by an admin: Asked three times already" in html
    press(root, page, f"/moderation/questions/{question_id}/unhide")
    assert bob.get(page).status_code == 200


def test_a_hidden_answer_is_invisible_to_other_members(app, config):
    ann, bob, root = member(app, config, "Ann"), member(app, config, "Bob"), admin(app)
    question_id = ask(ann)
    answer_id = answer(bob, question_id, "Buy cheap watches at spam.example")
    page = f"/questions/{question_id}"
    press(root, page, f"/moderation/answers/{answer_id}/hide", reason="spam")
    assert "spam.example" not in ann.get(page).get_data(as_text=True)
    assert "spam.example" in bob.get(page).get_data(as_text=True)  # its author still sees it
    assert press(ann, page, f"/answers/{answer_id}/accept").status_code == 404


def test_hiding_needs_a_reason(app, config):
    ann, root = member(app, config, "Ann"), admin(app)
    question_id = ask(ann)
    page = f"/questions/{question_id}"
    response = press(root, page, f"/moderation/questions/{question_id}/hide", reason="  ")
    assert response.status_code == 302
    assert "Say why it is hidden" in root.get(page).get_data(as_text=True)
    assert app.test_client().get(page).status_code == 200


def test_members_who_are_not_admins_cannot_hide_or_lock(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    page = f"/questions/{question_id}"
    assert press(bob, page, f"/moderation/questions/{question_id}/hide", reason="mine").status_code == 403
    assert press(ann, page, f"/moderation/questions/{question_id}/lock").status_code == 403
    assert 'name="reason"' not in ann.get(page).get_data(as_text=True)


def test_a_locked_question_takes_no_new_answers(app, config):
    ann, bob, root = member(app, config, "Ann"), member(app, config, "Bob"), admin(app)
    question_id = ask(ann)
    page = f"/questions/{question_id}"
    press(root, page, f"/moderation/questions/{question_id}/lock")
    html = bob.get(page).get_data(as_text=True)
    assert "This question is locked" in html and "Your answer" not in html
    refused = bob.post(f"{page}/answers", data={"csrf_token": csrf_token(bob, page),
                                                "body": "Sneaking in an answer"})
    assert refused.status_code == 403
    press(root, page, f"/moderation/questions/{question_id}/lock")  # unlocks
    answer(bob, question_id)


@pytest.mark.parametrize("path", ["/moderation/questions/{q}/hide", "/moderation/questions/{q}/unhide",
                                  "/moderation/questions/{q}/lock", "/moderation/answers/{a}/hide",
                                  "/moderation/answers/{a}/unhide"])
def test_every_moderation_form_refuses_a_post_without_its_csrf_token(app, config, path):
    ann, root = member(app, config, "Ann"), admin(app)
    question_id = ask(ann)
    answer_id = answer(ann, question_id)
    response = root.post(path.format(q=question_id, a=answer_id), data={"reason": "spam"})
    assert response.status_code == 400


def test_a_member_posting_too_fast_gets_the_429_page(tmp_path):
    config = build_config(tmp_path, SITE, webapp={"posts_per_minute": 3})
    with site_app(config) as app:
        ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
        refused = post_form(ann, "/questions/ask", title="short", body="", tags="")
        assert refused.status_code == 200  # a form with mistakes does not count
        question_id = ask(ann)
        answer(ann, question_id)
        ask(ann)
        limited = post_form(ann, "/questions/ask", title="One question too many", body="Some body text",
                            tags="x")
        assert limited.status_code == 429 and "Too many requests" in limited.get_data(as_text=True)
        assert ann.get(f"/questions/{question_id}").status_code == 200  # reading is not limited
        answer(bob, question_id)  # another member has a budget of their own
