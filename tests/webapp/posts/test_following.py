"""Following: authors and repliers follow, the Follow/Unfollow buttons, counts, the Following page."""

from __future__ import annotations

import re

from tests.webapp.qa_helpers import answer, ask, comment, member, press, write_article
from webapp.accounts.models import User
from webapp.site.extensions import db


def followers(html: str) -> int:
    return int(re.search(r'<span class="muted followers">(\d+) follower', html).group(1))


def test_asking_follows_the_question_and_answering_follows_it_too(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id)
    html = bob.get(f"/questions/{question_id}").get_data(as_text=True)
    assert followers(html) == 2 and ">Unfollow</button>" in html
    assert "How do I read a file line by line?" in bob.get("/following").get_data(as_text=True)


def test_a_member_who_turned_follow_on_reply_off_does_not_follow_what_they_answer(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    with app.app_context():
        db.session.execute(db.update(User).filter_by(display_name="Bob").values(follow_on_reply=False))
        db.session.commit()
    question_id = ask(ann)
    answer(bob, question_id)
    article_id = write_article(ann)
    comment(bob, article_id)
    assert followers(bob.get(f"/questions/{question_id}").get_data(as_text=True)) == 1
    assert followers(bob.get(f"/articles/{article_id}").get_data(as_text=True)) == 1


def test_follow_and_unfollow_buttons_work_without_javascript(app, config):
    ann, cat = member(app, config, "Ann"), member(app, config, "Cat")
    article_id = write_article(ann)
    page = f"/articles/{article_id}"
    assert press(cat, page, f"/follow/article/{article_id}").status_code == 302
    press(cat, page, f"/follow/article/{article_id}")  # twice is still once
    html = cat.get(page).get_data(as_text=True)
    assert followers(html) == 2 and ">Unfollow</button>" in html
    assert "Ten things about SQLite WAL mode" in cat.get("/following").get_data(as_text=True)
    press(cat, page, f"/unfollow/article/{article_id}")
    assert followers(cat.get(page).get_data(as_text=True)) == 1
    assert "Ten things" not in cat.get("/following").get_data(as_text=True)


def test_visitors_see_the_count_but_no_button(app, config):
    ann = member(app, config, "Ann")
    question_id = ask(ann)
    html = app.test_client().get(f"/questions/{question_id}").get_data(as_text=True)
    assert followers(html) == 1 and ">Follow</button>" not in html
    assert app.test_client().get("/following").status_code == 302


def test_follow_buttons_refuse_a_post_without_its_csrf_token(app, config):
    ann = member(app, config, "Ann")
    question_id = ask(ann)
    assert ann.post(f"/unfollow/question/{question_id}").status_code == 400
    assert ann.post(f"/follow/question/{question_id}").status_code == 400
    assert ann.post("/follow/nonsense/1", data={}).status_code == 400  # the token is checked first


def test_a_followed_question_hidden_by_an_admin_leaves_the_following_page(app, config):
    from tests.webapp.admin.test_moderation import admin

    ann, bob, root = member(app, config, "Ann"), member(app, config, "Bob"), admin(app)
    question_id = ask(ann, title="A question that will be hidden")
    press(bob, f"/questions/{question_id}", f"/follow/question/{question_id}")
    press(root, f"/questions/{question_id}", f"/moderation/questions/{question_id}/hide", reason="spam")
    assert "will be hidden" not in bob.get("/following").get_data(as_text=True)
    assert "will be hidden" in ann.get("/following").get_data(as_text=True)  # her own
