"""Posts in a real browser (headless Chromium): deleting asks first and Restore undoes it;
the top bar's search finds answers and articles by the start of a word."""

from __future__ import annotations

import pytest

from tests.conftest import needs_chromium
from tests.webapp.accounts.test_auth import PASSWORD
from tests.webapp.qa_helpers import answer, ask, member, press

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


def log_in(page, site, email):
    page.goto(f"{site}/account/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector(".who")


def csp_refusals(page) -> list[str]:
    refused = []   # what the Content-Security-Policy blocked, as the browser reports it
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return refused


def test_deleting_an_answer_asks_first_and_restore_brings_it_back(site, page, app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer_id = answer(bob, question_id, "My answer, **bold** and all.")
    press(ann, f"/questions/{question_id}", f"/answers/{answer_id}/vote", direction="up")
    refused = csp_refusals(page)
    log_in(page, site, "bob@example.org")
    page.goto(f"{site}/questions/{question_id}")
    assert page.inner_text("h2.answer-count") == "1 answer"

    page.click(f"#answer-{answer_id} a:has-text('Delete')")
    assert page.inner_text("h1") == "Delete your answer?"
    page.click("text=No, keep it")                       # changed my mind: nothing happened
    assert page.inner_text(f"#answer-{answer_id} .markdown") == "My answer, bold and all."

    page.click(f"#answer-{answer_id} a:has-text('Delete')")
    page.click("button:has-text('Yes, delete it')")
    assert "deleted" in page.inner_text(".flash")
    assert page.inner_text("h2.answer-count") == "0 answers"
    assert page.locator("ol.answers").first.locator("li").count() == 0
    deleted = page.locator(".deleted-answers")
    assert "deleted by its author" in deleted.inner_text() and deleted.locator(".count").count() == 0

    deleted.locator("button:has-text('Restore')").click()
    assert "restored" in page.inner_text(".flash")
    assert page.inner_text("h2.answer-count") == "1 answer"
    assert page.inner_text(f"#answer-{answer_id} .markdown") == "My answer, bold and all."
    assert page.inner_text(f"#answer-{answer_id} .count") == "1"     # its vote came back with it
    assert page.locator(".deleted-answers").count() == 0
    assert refused == []
