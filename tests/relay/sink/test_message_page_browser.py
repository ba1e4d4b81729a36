"""A message's page in a real browser: the SMTP envelope beside the headers, the Links tab and
its check against a real HTTP server on 127.0.0.1, delete and mark unread."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import needs_chromium
from tests.relay.sink.conftest import indexed
from tests.relay.sink.test_inbox import send

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


def test_the_envelope_shows_who_the_sink_delivered_to_beside_the_headers(sink, inbox, page):
    send(sink, b"From: Q&A <noreply@example.test>\r\nTo: Ann <ann@example.test>\r\n"
               b"Subject: Your receipt\r\n\r\nThanks.\r\n",
         sender="bounces+42@example.test", recipients=("ann@example.test", "audit@example.test"))
    indexed(inbox, 1)
    page.goto(inbox.url)
    page.click("text=Your receipt")
    envelope = page.locator("section.envelope")
    expect(envelope.locator(".mail-from")).to_have_text("<bounces+42@example.test>")
    assert envelope.locator(".rcpt").all_inner_texts() == [
        "<ann@example.test>", "<audit@example.test> not in To or Cc (a Bcc)"]
    assert "Q&A <noreply@example.test>" in page.locator("dl.meta").first.inner_text()


def test_links_are_listed_and_checked_with_each_answer_shown(sink, inbox, page, website):
    send(sink, (f"From: a@example.test\r\nTo: b@example.test\r\nSubject: Two links\r\n\r\n"
                f"Good: {website}/ok\r\nGone: {website}/missing.\r\n").encode())
    indexed(inbox, 1)
    page.goto(inbox.url)
    page.click("text=Two links")
    page.click("nav.tabs >> text=Links (2)")
    items = page.locator("ul.links li")
    assert items.locator("a").all_inner_texts() == [f"{website}/ok", f"{website}/missing"]
    page.click("text=Check links")
    expect(items.locator(".status")).to_have_text(["200", "404"])
    assert items.nth(0).get_attribute("class") == "ok" and items.nth(1).get_attribute("class") == "bad"


def test_delete_and_mark_unread_from_the_message_page(sink, inbox, page):
    for subject in ("Keep me", "Drop me"):
        send(sink, f"From: a@example.test\r\nTo: b@example.test\r\nSubject: {subject}\r\n\r\nx\r\n".encode())
    indexed(inbox, 2)
    page.goto(inbox.url)
    page.click("text=Keep me")
    expect(page.locator("#unread")).to_have_text("1 unread")
    page.click("button:has-text('Mark unread')")
    expect(page.locator("#unread")).to_have_text("2 unread")   # back on the list
    page.click("text=Drop me")
    page.click("button:has-text('Delete')")
    expect(page.locator("#total")).to_have_text("1 message")
    assert page.locator("td.subject a").all_inner_texts() == ["Keep me"]
    assert sink.maildir.count() == 1
