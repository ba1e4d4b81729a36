"""Articles and their comments: write, comment oldest first, edit, delete, hide, list, search."""

from __future__ import annotations

import re

import pytest

from tests.webapp.admin.test_moderation import admin
from tests.webapp.conftest import post_form, reconfigure
from tests.webapp.posts.test_browse import titles
from tests.webapp.qa_helpers import comment, member, press, write_article
from webapp.accounts.models import User
from webapp.site.extensions import db


def comment_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="comment[^"]*" id="comment-(\d+)"', html)]


def test_a_member_writes_an_article_and_others_comment_oldest_first(app, config):
    ann, bob, cat = (member(app, config, n) for n in ("Ann", "Bob", "Cat"))
    article_id = write_article(ann)
    first = comment(bob, article_id, "First!")
    second = comment(cat, article_id, "Second, with `code`.")
    html = app.test_client().get(f"/articles/{article_id}").get_data(as_text=True)
    assert "<strong>readers</strong>" in html and "<code>code</code>" in html
    assert comment_ids(html) == [first, second]


def test_when_only_admins_write_articles_a_member_is_refused(app, config):
    reconfigure(app, articles_by="admins")
    ann, root = member(app, config, "Ann"), admin(app)
    refused = post_form(ann, "/articles/write", title="A member's article", body="Not allowed here")
    assert refused.status_code == 403 and "only admins" in refused.get_data(as_text=True)
    assert "Write an article" not in ann.get("/articles").get_data(as_text=True)
    write_article(root)
    comment(ann, 1)  # members still comment


def test_authors_edit_and_delete_their_comments_only(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    article_id = write_article(ann)
    comment_id = comment(bob, article_id, "A comment with a typo")
    assert post_form(ann, f"/comments/{comment_id}/edit", body="Ann's words").status_code == 403
    assert post_form(bob, f"/comments/{comment_id}/edit", body="A comment, fixed").status_code == 302
    page = f"/articles/{article_id}"
    html = app.test_client().get(page).get_data(as_text=True)
    assert "A comment, fixed" in html and 'class="edited">edited' in html
    assert press(ann, page, f"/comments/{comment_id}/delete", confirm="yes").status_code == 403
    assert press(bob, page, f"/comments/{comment_id}/delete", confirm="yes").status_code == 302
    html = app.test_client().get(page).get_data(as_text=True)
    assert "deleted by its author" in html and "fixed" not in html


def test_an_author_edits_and_deletes_their_article(app, config):
    ann = member(app, config, "Ann")
    article_id = write_article(ann)
    post_form(ann, f"/articles/{article_id}/edit", title="Eleven things about WAL mode",
              body="One more thing.")
    assert "Eleven things" in app.test_client().get(f"/articles/{article_id}").get_data(as_text=True)
    press(ann, f"/articles/{article_id}", f"/articles/{article_id}/delete", confirm="yes")
    html = app.test_client().get(f"/articles/{article_id}").get_data(as_text=True)
    assert "deleted by its author" in html and "to comment" not in html
    assert titles(app.test_client().get("/articles").get_data(as_text=True)) == []


def test_admins_hide_articles_and_comments(app, config):
    ann, bob, root = member(app, config, "Ann"), member(app, config, "Bob"), admin(app)
    article_id = write_article(ann)
    comment_id = comment(bob, article_id, "Rude words here")
    page = f"/articles/{article_id}"
    press(root, page, f"/moderation/comments/{comment_id}/hide", reason="rude")
    assert "Rude words" not in ann.get(page).get_data(as_text=True)
    assert "Hidden by an admin: rude" in bob.get(page).get_data(as_text=True)
    press(root, page, f"/moderation/articles/{article_id}/hide", reason="copied")
    assert bob.get(page).status_code == 404 and ann.get(page).status_code == 200


def test_articles_are_in_lists_profiles_and_search(app, config):
    ann = member(app, config, "Ann")
    write_article(ann, title="Checkpointing the write-ahead log", body="How checkpoints work.")
    visitor = app.test_client()
    for path in ("/", "/articles", "/members/1", "/search?q=checkpoints&in=articles"):
        assert "Checkpointing the write-ahead log" in titles(visitor.get(path).get_data(as_text=True)), path
    assert titles(visitor.get("/search?q=checkpoints&in=questions").get_data(as_text=True)) == []
    with app.app_context():
        assert db.session.get(User, 1).display_name == "Ann"


@pytest.mark.parametrize("path, fields", [
    ("/articles/write", {"title": "A title long enough", "body": "A body long enough"}),
    ("/articles/{a}/comments", {"body": "A comment"}),
    ("/articles/{a}/edit", {"title": "A title long enough", "body": "A body long enough"}),
    ("/articles/{a}/delete", {}),
    ("/comments/{c}/edit", {"body": "A comment"}),
    ("/comments/{c}/delete", {}),
    ("/moderation/articles/{a}/hide", {"reason": "spam"}),
    ("/moderation/comments/{c}/hide", {"reason": "spam"}),
])
def test_every_article_form_refuses_a_post_without_its_csrf_token(app, config, path, fields):
    ann = member(app, config, "Ann")
    article_id = write_article(ann)
    comment_id = comment(ann, article_id)
    response = ann.post(path.format(a=article_id, c=comment_id), data=fields)
    assert response.status_code == 400
