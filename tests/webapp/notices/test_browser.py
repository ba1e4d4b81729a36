"""Notifications in a real browser (headless Chromium): the bell's count in the top bar, the
Notifications page, a notification read by opening what it points at, and "Mark all read"."""

from __future__ import annotations

import pytest

from tests.conftest import needs_chromium
from tests.webapp.accounts.test_browser import browser_login
from tests.webapp.mail.test_outbox import fan_out
from tests.webapp.qa_helpers import answer, ask, comment, member, write_article

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
pytestmark = needs_chromium


def test_the_bell_counts_and_opening_a_notification_marks_it_read(site, app, page, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann, title="Why is my WAL file growing?")
    answer_id = answer(bob, question_id)
    article_id = write_article(ann, title="Notes on fsync and friends")
    comment(bob, article_id)
    fan_out(app)

    browser_login(page, site, "ann@example.org")
    assert page.inner_text(".bar .bell").endswith("2")
    page.click(".bar .bell")
    assert page.inner_text("h1") == "Notifications"
    items = page.locator(".notice").all_inner_texts()
    assert len(items) == 2 and "New comment by Bob: Notes on fsync and friends" in items[0]
    assert "New answer by Bob: Why is my WAL file growing?" in items[1]
    assert page.locator(".notice.unread").count() == 2

    page.click("text=New answer by Bob: Why is my WAL file growing?")
    assert page.url == f"{site}/questions/{question_id}#answer-{answer_id}"
    assert page.inner_text(".bar .bell").endswith("1")
    page.click(".bar .bell")
    # The click starts a navigation; expect waits for the new page where count() would not.
    expect(page.locator(".notice.unread")).to_have_count(1)
    assert "Notes on fsync" in page.inner_text(".notice.unread")


def test_mark_all_read_in_a_browser(site, app, page, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    answer(bob, ask(ann, title="How do I vacuum a database?"))
    fan_out(app)
    browser_login(page, site, "ann@example.org")
    page.click(".bar .bell")
    expect(page.locator(".notice.unread")).to_have_count(2)
    page.click("button:has-text('Mark all read')")
    assert "marked read" in page.inner_text(".flash")
    expect(page.locator(".notice.unread")).to_have_count(0)
    expect(page.locator(".notice")).to_have_count(2)
    assert page.inner_text(".bar .bell").endswith("0")
