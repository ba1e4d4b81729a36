"""The newsletter in a real browser (headless Chromium): a new member asks for it on the
sign-up form; the admin's preview shows the text part as members read it (one greeting,
links as footnotes)."""

from __future__ import annotations

import pytest

from tests.conftest import needs_chromium
from tests.webapp.accounts.test_browser import sign_up
from tests.webapp.mail.test_newsletter import admin_client
from tests.webapp.mail.test_newsletter_text import LINKED
from tests.webapp.posts.test_browser import log_in
from webapp.accounts.models import User
from webapp.site.extensions import db

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


def test_the_sign_up_form_offers_the_newsletter_unticked(site, page, app):
    sign_up(page, site, "Yan", "yan@example.org")               # leaves the box as it is
    assert page.inner_text("h1") == "Check your inbox"
    page.goto(f"{site}/account/register")
    assert not page.is_checked("#newsletter") and "newsletter" in page.inner_text("label[for=newsletter]")
    for field, value in (("#display_name", "Zoë"), ("#email", "zoe@example.org"),
                         ("#password", "a long password"), ("#confirm", "a long password")):
        page.fill(field, value)
    page.check("#newsletter")
    page.click("text=Create account")
    assert page.inner_text("h1") == "Check your inbox"
    with app.app_context():
        chosen = dict(db.session.execute(db.select(User.display_name, User.newsletter)).all())
    assert chosen == {"Zoë": True, "Yan": False}


def test_the_preview_shows_readable_text_with_one_greeting(site, page, app, config):
    admin_client(app, config)
    log_in(page, site, "ada@example.org")
    page.goto(f"{site}/admin/newsletter")
    page.fill("#subject", "Rules")
    page.fill("#body", "Hello members,\n\n" + LINKED)
    page.click("button[value=preview]")
    text = page.inner_text(".preview-text")
    assert text.startswith("Hello members,\n\nOur new rules [1] are out")
    assert "Hello Ada" not in text and "Hello Ada" not in page.inner_text(".preview-html")
    assert "[1] https://example.org/rules" in text and "](" not in text
