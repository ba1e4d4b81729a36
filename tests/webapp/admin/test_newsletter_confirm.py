"""The newsletter's two acts that cannot be undone ask first: Send needs its box ticked,
Cancel a second button on a page of its own; both work without script."""

from __future__ import annotations

import re

import pytest

from tests.conftest import needs_chromium
from tests.webapp.conftest import csrf_token
from tests.webapp.mail.test_newsletter import BODY, admin_client, members, newsletter_files
from tests.webapp.mail.test_outbox import fan_out
from tests.webapp.posts.test_browser import log_in
from webapp.mail.models import Newsletter
from webapp.site.extensions import db

PAGE = "/admin/newsletter"


def newsletters(app) -> int:
    with app.app_context():
        return len(db.session.execute(db.select(Newsletter)).scalars().all())


def test_send_without_the_box_ticked_sends_nothing_and_says_why(app, config):
    ada = admin_client(app, config)
    members(app, 2)
    shown = ada.post(PAGE, data={"csrf_token": csrf_token(ada, PAGE), "subject": "News",
                                 "body": BODY, "action": "send"})
    assert shown.status_code == 200 and "Tick this box to send" in shown.get_data(as_text=True)
    fan_out(app)
    assert newsletters(app) == 0 and newsletter_files(config) == []


def test_cancel_asks_on_a_page_of_its_own_and_pause_does_not(app, config):
    ada = admin_client(app, config)
    members(app, 2)
    sent = ada.post(PAGE, data={"csrf_token": csrf_token(ada, PAGE), "subject": "News", "body": BODY,
                                "action": "send", "confirmed": "y"})
    page = sent.location
    token = csrf_token(ada, page)
    asked = ada.post(f"{page}/cancel", data={"csrf_token": token})
    assert asked.status_code == 200 and "Yes, cancel the newsletter" in asked.get_data(as_text=True)
    assert ada.get(f"{page}.json").get_json()["state"] == "sending"
    assert ada.post(f"{page}/pause", data={"csrf_token": token}).status_code == 302
    assert ada.get(f"{page}.json").get_json()["state"] == "paused"
    ada.post(f"{page}/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert ada.get(f"{page}.json").get_json()["state"] == "cancelled"


@needs_chromium
def test_an_admin_ticks_the_box_to_send_and_confirms_a_cancel_in_a_browser(site, page, app, config):
    pytest.importorskip("playwright.sync_api")
    admin_client(app, config)
    members(app, 3)
    log_in(page, site, "ada@example.org")
    page.goto(f"{site}{PAGE}")
    page.fill("#subject", "News from Q&A")
    page.fill("#body", BODY)
    page.click("button[value=preview]")
    page.click("button[value=send]")                      # the box is not ticked
    assert "Tick this box to send" in page.inner_text(".confirm-send")
    assert newsletters(app) == 0
    page.check("#confirmed")
    page.click("button[value=send]")
    page.wait_for_url(re.compile(r"/admin/newsletter/\d+$"))
    progress = page.url

    page.click("button[data-action=cancel]")
    assert page.inner_text("h1") == "Cancel “News from Q&A”?"
    page.click("text=No, keep sending")
    assert page.url == progress and page.inner_text("[data-field=state]") == "sending"
    page.click("button[data-action=cancel]")
    page.click("button:has-text('Yes, cancel the newsletter')")
    assert "Cancelled" in page.inner_text(".flash")
    fan_out(app)
    assert newsletter_files(config) == []
