"""One-click unsubscribe links from real notification mail: a POST without cookies unfollows,
a GET never does, and a link works only for the member and the post it was made for."""

from __future__ import annotations

import base64
import json
import zlib

from tests.conftest import needs_chromium
from tests.webapp.mail.test_outbox import fan_out, notifications
from tests.webapp.qa_helpers import answer, ask, comment, member, write_article
from webapp.accounts.models import User
from webapp.posts.subscriptions import is_following_id
from webapp.site.extensions import db


def link_to(config, name: str, subject_start: str = "") -> str:
    """The List-Unsubscribe link of the notification mailed to `name`, as a site path."""
    [mail] = [m for m in notifications(config)
              if str(m["To"]).startswith(f"{name} <") and m["Subject"].startswith(subject_start)]
    return "/" + mail["List-Unsubscribe"].strip("<>").split("/", 3)[3]


def following(app, name: str, kind: str, target_id: int) -> bool:
    with app.app_context():
        user_id = db.session.execute(db.select(User.id).filter_by(display_name=name)).scalar_one()
        return is_following_id(user_id, kind, target_id)


def user_id(app, name: str) -> int:
    with app.app_context():
        return db.session.execute(db.select(User.id).filter_by(display_name=name)).scalar_one()


def retarget(path: str, index: int, value) -> str:
    """The link with one item of its signed payload changed and the signature kept."""
    prefix, token = path.rsplit("/", 1)
    payload, signature = token.rsplit(".", 1)
    compressed = payload.startswith(".")
    data = base64.urlsafe_b64decode(payload.lstrip(".") + "=" * (-len(payload.lstrip(".")) % 4))
    items = json.loads(zlib.decompress(data) if compressed else data)
    items[index] = value
    encoded = base64.urlsafe_b64encode(json.dumps(items, separators=(",", ":")).encode()).rstrip(b"=")
    return f"{prefix}/{encoded.decode()}.{signature}"


def answered_question(app, config, title="How do I read a file line by line?"):
    """Ann asks, Bob answers, the worker mails Ann; returns the question's id and both clients."""
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann, title=title)
    answer(bob, question_id)
    fan_out(app)
    return question_id, ann, bob


def test_the_one_click_post_without_cookies_or_token_unfollows_and_answers_200(app, config):
    question_id, _ann, _bob = answered_question(app, config)
    link = link_to(config, "Ann")
    assert following(app, "Ann", "question", question_id)
    response = app.test_client().post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "Done: you will get no more mail about" in response.get_data(as_text=True)
    assert not following(app, "Ann", "question", question_id)
    assert "Set-Cookie" not in response.headers
    assert app.test_client().post(link).status_code == 200  # twice is fine: still unfollowed


def test_opening_the_link_never_unsubscribes_it_shows_a_button(app, config):
    question_id, _ann, _bob = answered_question(app, config, title="Is <b>bold</b> in a title safe?")
    link = link_to(config, "Ann")
    for _ in range(3):  # a mail scanner opening the link, then the member
        response = app.test_client().get(link)
        assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Stop getting mail about" in page and '<form method="post">' in page
    assert "“Is &lt;b&gt;bold&lt;/b&gt; in a title safe?”" in page
    assert following(app, "Ann", "question", question_id)


def test_every_unsubscribe_page_tells_the_browser_to_send_no_referer(app, config):
    answered_question(app, config)
    link = link_to(config, "Ann")
    client = app.test_client()
    for response in (client.get(link), client.post(link), client.get(link[:-3]), client.post(link[:-3])):
        # The page's address holds a token that never expires: a link followed from it keeps it.
        assert response.headers.getlist("Referrer-Policy") == ["no-referrer"], response.status_code
    assert client.get("/").headers.getlist("Referrer-Policy") == ["same-origin"]


def test_a_link_altered_to_name_another_member_does_not_work_and_changes_nothing(app, config):
    question_id, _ann, _bob = answered_question(app, config)
    link = link_to(config, "Ann")
    assert retarget(link, 0, user_id(app, "Ann")) == link  # the alteration keeps everything else
    bob = user_id(app, "Bob")
    assert following(app, "Bob", "question", question_id)
    for method in ("get", "post"):
        response = getattr(app.test_client(), method)(retarget(link, 0, bob))
        assert response.status_code == 404
        assert "This link does not work" in response.get_data(as_text=True)
    assert following(app, "Bob", "question", question_id)
    assert following(app, "Ann", "question", question_id)


def test_a_link_altered_to_name_another_post_does_not_work(app, config):
    first, ann, _bob = answered_question(app, config)
    second = ask(ann, title="Where do my pickup files go?")
    link = link_to(config, "Ann")
    response = app.test_client().post(retarget(link, 2, second))
    assert response.status_code == 404 and "This link does not work" in response.get_data(as_text=True)
    response = app.test_client().post(link[:-3])  # cut short when copied
    assert response.status_code == 404
    assert following(app, "Ann", "question", first) and following(app, "Ann", "question", second)


def test_the_link_of_question_a_leaves_question_b_followed(app, config):
    first, ann, bob = answered_question(app, config, title="First question about files?")
    second = ask(ann, title="Second question about folders?")
    answer(bob, second)
    fan_out(app)
    assert app.test_client().post(link_to(config, "Ann", "New answer: First")).status_code == 200
    assert not following(app, "Ann", "question", first)
    assert following(app, "Ann", "question", second)


def test_an_articles_link_unfollows_the_article(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    article_id = write_article(ann, title="Notes on fsync")
    question_id = ask(ann)
    comment(bob, article_id, body="Good notes.")
    fan_out(app)
    link = link_to(config, "Ann", "New comment")
    assert "Notes on fsync" in app.test_client().get(link).get_data(as_text=True)
    assert app.test_client().post(link).status_code == 200
    assert not following(app, "Ann", "article", article_id)
    assert following(app, "Bob", "article", article_id)
    assert following(app, "Ann", "question", question_id)


@needs_chromium
def test_pressing_the_button_in_a_browser_unfollows_and_the_question_says_follow(site, app, page,
                                                                                 config):
    from tests.webapp.accounts.test_browser import browser_login

    question_id, _ann, _bob = answered_question(app, config)
    link = link_to(config, "Ann")
    page.goto(site + link)
    assert page.inner_text("h1") == "Unsubscribe"
    page.click("button:has-text('Unsubscribe')")
    assert "Done: you will get no more mail about" in page.inner_text("main")
    assert not following(app, "Ann", "question", question_id)

    browser_login(page, site, "ann@example.org")
    page.goto(f"{site}/questions/{question_id}")
    assert page.locator(".follow button").inner_text() == "Follow"
