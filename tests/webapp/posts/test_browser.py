"""Posts in a real browser (headless Chromium): deleting asks first and Restore undoes it;
the top bar's search finds answers and articles by the start of a word."""

from __future__ import annotations

import pytest

from tests.conftest import needs_chromium
from tests.webapp.accounts.test_auth import PASSWORD
from tests.webapp.qa_helpers import answer, ask, member, press, write_article

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


def test_the_top_bar_finds_an_answer_and_an_article_by_a_word_start(site, page, app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann, title="Keeping fish in a lab", body="Which species is easiest?")
    answer_id = answer(bob, question_id, "Try the zebrafishunique strain, it is <b>hardy</b>.")
    write_article(ann, title="Notes on zebrafishunique husbandry", body="Water at 28 degrees.")
    refused = csp_refusals(page)
    page.goto(site)
    page.fill(".search-box input[name=q]", "zebrafish")
    page.press(".search-box input[name=q]", "Enter")
    page.wait_for_selector(".search-hit")
    hits = page.locator(".search-hit")
    assert hits.count() == 2
    assert page.locator("h2").all_inner_texts() == ["Questions and answers", "Articles"]
    assert hits.nth(0).locator("mark").inner_text() == "zebrafishunique"
    assert "<b>hardy</b>" in hits.nth(0).locator(".snippet").inner_text()   # shown as text
    hits.nth(0).locator("a.title").click()
    assert page.url.endswith(f"/questions/{question_id}#answer-{answer_id}")

    page.fill(".search-box input[name=q]", "quokka")
    page.press(".search-box input[name=q]", "Enter")
    assert "No posts hold every one of the words of “quokka”" in page.inner_text(".no-results")
    assert refused == []
