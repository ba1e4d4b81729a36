"""Mentions and followed tags in a real browser (headless Chromium): following a tag from its
page, and an @mention typed in an answer that links to the member and mails them."""

from __future__ import annotations

from tests.conftest import needs_chromium
from tests.webapp.accounts.test_browser import browser_login
from tests.webapp.mail.test_outbox import fan_out, notifications
from tests.webapp.qa_helpers import ask, member


@needs_chromium
def test_following_a_tag_from_its_page_brings_mail_of_its_next_question(site, app, page, config):
    ann = member(app, config, "Ann")
    member(app, config, "Bob")
    ask(ann, title="How do I open a file?", tags="python")
    browser_login(page, site, "bob@example.org")
    page.goto(f"{site}/questions")
    page.click(".tag:has-text('python')")
    assert page.inner_text("h1") == "Questions tagged python"
    page.click(".follow button:has-text('Follow')")
    assert "You follow this tag." in page.inner_text(".flash")
    assert page.locator(".follow button").inner_text() == "Unfollow"
    assert page.inner_text(".follow .followers") == "1 follower"

    ask(ann, title="How do I close a file?", tags="python")
    fan_out(app)
    [mail] = notifications(config)
    assert mail["To"] == "Bob <bob@example.org>" and mail["Subject"] == "New question: How do I close a file?"


@needs_chromium
def test_an_at_mention_typed_in_an_answer_links_to_the_member_and_mails_them(site, app, page, config):
    ann = member(app, config, "Ann")
    member(app, config, "Bob"), member(app, config, "Cat")
    question_id = ask(ann, title="Why is my WAL file growing?")
    browser_login(page, site, "bob@example.org")
    page.goto(f"{site}/questions/{question_id}")
    page.fill("#body", "Run a checkpoint; @cat wrote about this.")
    page.click("text=Post your answer")
    page.click(".answer a.mention:has-text('@cat')")
    assert page.url.endswith("/members/3") and "Cat" in page.inner_text("h1")

    fan_out(app)
    [mail] = [m for m in notifications(config) if m["To"] == "Cat <cat@example.org>"]
    assert mail["Subject"] == "Bob mentioned you: Why is my WAL file growing?"
    assert "> Run a checkpoint; @cat wrote about this." in mail.get_body(("plain",)).get_content()
