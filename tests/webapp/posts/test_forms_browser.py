"""The post forms in a real browser (headless Chromium): a body over its limit is counted while
typing, refused by the server with the text kept, never cut; the count agrees with the server's."""

from __future__ import annotations

import pytest

from tests.conftest import needs_chromium
from tests.webapp.accounts.test_browser import browser_login
from tests.webapp.qa_helpers import member

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


def csp_refusals(page) -> list[str]:
    refused = []  # what the Content-Security-Policy blocked, as the browser reports it
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return refused


def test_a_body_over_the_limit_is_counted_refused_and_kept_never_cut(site, app, page, config):
    member(app, config, "Ann")
    refused = csp_refusals(page)
    browser_login(page, site, "ann@example.org")
    page.goto(f"{site}/questions/ask")
    assert page.get_attribute("#body", "maxlength") is None
    page.fill("#title", "Why is my pasted log cut?")
    page.fill("#tags", "logs")
    too_long = "x" * 30_005
    page.fill("#body", too_long)
    assert page.inner_text("#body-count") == "30,005 / 30,000 characters: 5 too many"
    assert "over" in page.get_attribute("#body-count", "class")

    page.click("input[type=submit]")
    page.wait_for_selector(".error")
    assert "30,005 characters long; at most 30,000 fit. Shorten it by 5" in page.inner_text(".error")
    assert page.input_value("#body") == too_long                 # all of it, to shorten
    assert page.input_value("#title") == "Why is my pasted log cut?"
    page.goto(f"{site}/questions")
    assert "Nothing here yet." in page.inner_text(".question-list")
    assert refused == []


def test_line_breaks_count_as_the_server_counts_them(site, app, page, config):
    member(app, config, "Ann")
    browser_login(page, site, "ann@example.org")
    page.goto(f"{site}/questions/ask")
    page.fill("#title", "A log of exactly the limit")
    page.fill("#tags", "logs")
    # As pasted (typing 6,000 lines would take minutes): the value set, then the input event.
    page.eval_on_selector("#body", """area => { area.value = "line\\n".repeat(6000);
                                               area.dispatchEvent(new Event("input")); }""")
    assert page.inner_text("#body-count") == "30,000 / 30,000 characters"
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/ask" not in url)
    assert page.inner_text("h1") == "A log of exactly the limit"


def test_a_post_over_the_posting_limit_says_when_to_try_again_and_keeps_the_text(site, app, page, config):
    from tests.webapp.conftest import reconfigure
    from tests.webapp.qa_helpers import ask
    from webapp.site.extensions import limiter

    question = ask(member(app, config, "Bob"))
    member(app, config, "Ann")
    reconfigure(app, posts_per_minute=1)
    browser_login(page, site, "ann@example.org")
    page.goto(f"{site}/questions/{question}")
    page.fill("#body", "The first answer goes through.")
    page.click("input[type=submit]")
    page.wait_for_selector(".answer")
    written = "A second, long answer\n\nthat took a while to write."
    page.fill("#body", written)
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.click("input[type=submit]")
    assert refused.value.status == 429
    wait = int(refused.value.headers["retry-after"])
    assert 0 < wait <= 60
    assert page.inner_text("h1") == "Too many requests"
    assert f"You can try again in {wait} second" in page.inner_text(".retry")
    assert page.input_value("#kept-body") == written              # nothing to write again

    with app.app_context():
        limiter.reset()                                           # the minute is over
    page.click("button:has-text('Send it again')")
    page.wait_for_selector(".answer >> nth=1")
    assert "that took a while to write." in page.inner_text(".answers")


def test_a_pasted_title_over_the_limit_is_not_cut_but_refused_with_the_count(site, app, page, config):
    member(app, config, "Ann")
    browser_login(page, site, "ann@example.org")
    page.goto(f"{site}/questions/ask")
    title = "Why " + "very " * 31 + "long?"                        # 164 characters
    page.fill("#title", title)
    assert page.input_value("#title") == title
    page.fill("#body", "A body long enough.")
    page.fill("#tags", "python")
    page.click("input[type=submit]")
    page.wait_for_selector(".error")
    assert page.inner_text(".error").startswith("This is 164 characters long; at most 150 fit.")
    assert page.input_value("#title") == title


def test_a_title_of_only_spaces_is_told_it_is_missing(site, app, page, config):
    member(app, config, "Ann")
    browser_login(page, site, "ann@example.org")
    page.goto(f"{site}/questions/ask")
    page.fill("#title", "          ")
    page.fill("#body", "A question with a body but no title.")
    page.fill("#tags", "python")
    page.click("input[type=submit]")
    page.wait_for_selector(".error")
    assert page.locator(".error").all_inner_texts() == ["Give your question a title."]


def test_a_quoted_paragraph_stands_out_from_the_text(site, app, page, config):
    from tests.webapp.qa_helpers import ask

    question = ask(member(app, config, "Ann"), body="> The docs say: never do this.\n\nBut I did.")
    page.goto(f"{site}/questions/{question}")
    quote = page.locator(".markdown blockquote")
    assert quote.inner_text() == "The docs say: never do this."
    style = quote.evaluate("q => [getComputedStyle(q).borderLeftWidth, getComputedStyle(q).marginLeft]")
    assert style == ["4px", "0px"]                               # a bar at the side, not an indent
