"""The account pages in a real browser (headless Chromium): sign up, activate from the mail's
link with the button of the page it opens, log in; confirm a new address the same way."""

from __future__ import annotations

import pytest

from tests.conftest import needs_chromium
from tests.webapp.conftest import link_in, pickup_messages

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
pytestmark = needs_chromium


def sign_up(page, site, name, email, password="a long password", confirm="a long password"):
    page.goto(f"{site}/account/register")
    page.fill("#display_name", name)
    page.fill("#email", email)
    page.fill("#password", password)
    page.fill("#confirm", confirm)
    page.click("text=Create account")


def test_sign_up_activate_and_log_in_in_a_browser(site, page, config):
    refused = []  # what the Content-Security-Policy blocked, as the browser reports it
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    sign_up(page, site, "Zoë <b>Z</b>", "zoe@example.org")
    assert page.inner_text("h1") == "Check your inbox"

    [mail] = pickup_messages(config)
    page.goto(site + link_in(mail, "activate"))
    assert page.url == f"{site}/account/welcome"  # the token is off the address bar
    assert page.inner_text("h1") == "Activate your account" and "zoe@example.org" in page.inner_text("main")
    page.click("button:has-text('Activate my account')")
    assert "Your account is active" in page.inner_text(".flash")
    assert page.url == f"{site}/account/login"
    assert page.input_value("#email") == "zoe@example.org"

    page.fill("#password", "a long password")
    page.click("input[type=submit]")
    assert page.inner_text("main").startswith("Questions and answers")
    assert page.inner_text(".who") == "Zoë <b>Z</b>"  # shown as text, never as markup
    # The stylesheet loaded from the site itself: the button is the accent colour.
    colour = page.eval_on_selector(".bar button.link", "e => getComputedStyle(e).color")
    assert colour == "rgb(36, 84, 214)"

    page.click(".bar a:has-text('Sessions')")
    assert page.inner_text("h1") == "Your sessions" and "(this browser)" in page.inner_text("main")
    page.click("button:has-text('Log out everywhere')")
    assert "logged out everywhere" in page.inner_text(".flash")
    page.goto(f"{site}/no-such-page")
    assert page.inner_text("h1") == "Page not found"
    assert refused == []


def test_the_html_mail_fits_a_800_pixel_window_long_link_included(site, page, config):
    from email import message_from_bytes
    from email.policy import default

    from spooler.envelope import parse_pickup

    sign_up(page, site, "Ann", "a.rather.long.address.for.the.test@example.org")
    [raw] = pickup_messages(config)
    content = parse_pickup(raw).content.replace(b"\r\n", b"\n")
    html = message_from_bytes(content, policy=default).get_body(("html",)).get_content()
    page.set_viewport_size({"width": 800, "height": 600})
    page.goto("about:blank")  # a mail reader's page: not the site's, whose policy forbids inline style
    page.set_content(html)
    assert page.evaluate("document.documentElement.scrollWidth") <= 800


def test_a_form_with_mistakes_says_what_is_wrong(site, page, config):
    sign_up(page, site, "Ann", "not-an-address", "short", "different")
    page.wait_for_selector(".error")  # all_inner_texts() does not wait for the answer page
    errors = page.locator(".error").all_inner_texts()
    assert any("email" in e.lower() for e in errors)
    assert any("8" in e for e in errors)  # the minimum password length
    assert pickup_messages(config) == []


def browser_login(page, site, email):
    if page.locator(".bar button:has-text('Log out')").count():
        page.click(".bar button:has-text('Log out')")
    page.goto(f"{site}/account/login")
    page.fill("#email", email)
    page.fill("#password", "correct horse battery")
    page.click("input[type=submit]")


def test_ask_answer_accept_and_vote_in_a_browser(site, app, page, config):
    from tests.webapp.accounts.test_auth import activated_member

    for name in ("Ann", "Bob", "Cat"):
        activated_member(app.test_client(), config, email=f"{name.lower()}@example.org", name=name)
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    browser_login(page, site, "ann@example.org")
    page.click(".bar a:has-text('Ask')")
    page.fill("#title", "How do I list a folder's files?")
    page.fill("#body", "I need **every** file, in order:\n\n    ls -1\n\nbut from Python.")
    page.fill("#tags", "python files")
    page.click("text=Post your question")
    assert page.inner_text("h1") == "How do I list a folder's files?"
    assert page.inner_text("#question strong") == "every"
    question_url = page.url

    browser_login(page, site, "bob@example.org")
    page.goto(question_url)
    page.fill("#body", "Use `sorted(pathlib.Path('.').iterdir())`.")
    page.click("text=Post your answer")
    assert "sorted(pathlib.Path('.').iterdir())" in page.inner_text(".answer code")

    browser_login(page, site, "ann@example.org")
    page.goto(question_url)
    page.click("button:has-text('Accept this answer')")
    assert "You accepted this answer" in page.inner_text(".flash")
    assert page.inner_text(".answer.accepted .accepted-mark") == "✓ Accepted answer"

    browser_login(page, site, "cat@example.org")
    page.goto(question_url)
    page.click(".answer button:has-text('Up')")
    expect(page.locator(".answer .count")).to_have_text("1")
    expect(page.locator(".answer button.vote.chosen")).to_have_count(1)
    assert refused == []


def test_an_answer_an_admin_hides_is_invisible_to_other_members(site, app, page, config):
    from tests.webapp.qa_helpers import answer, ask, member

    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    answer(bob, question_id, "Cheap watches at spam.example, click now")
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "root@example.org",
                                                "--name", "Root", "--password", "correct horse battery"])
    assert result.exit_code == 0
    browser_login(page, site, "root@example.org")
    page.goto(f"{site}/questions/{question_id}")
    page.fill(".answer input[name=reason]", "spam")
    page.click(".answer .hide-form button")
    assert "only admins and its author" in page.inner_text(".flash")
    assert "Hidden by an admin: spam" in page.inner_text(".answer")  # the admin still sees it

    browser_login(page, site, "ann@example.org")
    page.goto(f"{site}/questions/{question_id}")
    assert page.locator(".answer").count() == 0 and "spam.example" not in page.content()


def test_follow_unfollow_and_the_settings_page_in_a_browser(site, app, page, config):
    from tests.webapp.qa_helpers import ask, member

    question_id = ask(member(app, config, "Ann"), title="Which relay keeps my mail?")
    member(app, config, "Bob")
    browser_login(page, site, "bob@example.org")
    page.goto(f"{site}/questions/{question_id}")
    assert page.inner_text(".follow .followers") == "1 follower"  # the asker
    page.click(".follow button:has-text('Follow')")
    assert page.inner_text(".flash") == "You follow this question."
    assert page.inner_text(".follow .followers") == "2 followers"
    page.click(".bar a:has-text('Following')")
    assert page.inner_text(".question-list .title") == "Which relay keeps my mail?"
    page.goto(f"{site}/questions/{question_id}")
    page.click(".follow button:has-text('Unfollow')")
    assert page.inner_text(".flash") == "You no longer follow this question."
    page.click(".bar a:has-text('Following')")
    assert "You follow nothing yet" in page.inner_text(".question-list")

    page.click(".bar a:has-text('Settings')")
    page.fill("#display_name", "Bobby")
    page.check("text=A daily digest")
    page.uncheck("text=Send me the newsletter")
    page.click("text=Save settings")
    assert page.inner_text(".flash") == "Your settings are saved."
    page.reload()
    assert page.input_value("#display_name") == "Bobby"
    assert page.is_checked("text=A daily digest") and not page.is_checked("text=Send me the newsletter")


def test_a_new_address_is_confirmed_with_the_button_of_the_page_its_link_opens(site, app, page, config):
    from tests.webapp.qa_helpers import member

    member(app, config, "Ann")
    browser_login(page, site, "ann@example.org")
    page.click(".bar a:has-text('Settings')")
    form = page.locator("form[action='/account/settings/email']")
    form.locator("input[name=email]").fill("ann.new@example.org")
    form.locator("input[name=current_password]").fill("correct horse battery")
    form.locator("text=Send a confirmation link").click()
    assert page.inner_text("h1") == "Check your inbox"
    [confirmation] = [m for m in pickup_messages(config) if b"To: ann.new@example.org" in m]
    page.goto(site + link_in(confirmation, "settings/email"))
    assert page.url == f"{site}/account/settings/email/confirm"
    assert page.inner_text("h1") == "Confirm your new address"
    page.click("button:has-text('Use ann.new@example.org')")
    assert page.inner_text(".flash") == "Your address is now ann.new@example.org."


def test_signing_up_for_an_address_someone_registered_first_leads_to_choosing_its_password(site, app, page,
                                                                                           config):
    from tests.webapp.accounts.test_auth import register

    register(app.test_client(), email="zoe@example.org", password="typed by someone else")
    sign_up(page, site, "Zoë", "zoe@example.org")
    assert page.inner_text("h1") == "Check your inbox"
    page.goto(site + link_in(pickup_messages(config)[-1], "activate"))
    assert page.url == f"{site}/account/new-password" and page.inner_text("h1") == "Choose your password"
    page.fill("#password", "a long password")
    page.fill("#confirm", "a long password")
    page.click("input[type=submit]")
    assert "Your account is active" in page.inner_text(".flash")
    assert page.url == f"{site}/"                                        # logged in at once
    assert page.locator(".bar button:has-text('Log out')").count() == 1


def test_each_label_on_the_settings_page_focuses_the_field_of_its_own_form(site, app, page, config):
    from tests.webapp.qa_helpers import member

    member(app, config, "Ann")
    browser_login(page, site, "ann@example.org")
    page.click(".bar a:has-text('Settings')")
    for action in ("/account/settings/password", "/account/settings/email"):
        form = page.locator(f"form[action='{action}']")
        form.locator("label:has-text('Current password')").click()
        focused = page.evaluate("document.activeElement.closest('form').getAttribute('action')")
        assert focused == action
        assert page.evaluate("document.activeElement.name") == "current_password"


def test_the_sessions_page_names_the_browser_and_its_system(site, app, page, config):
    from tests.webapp.qa_helpers import member

    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    member(app, config, "Ann")                          # logged in on a test client too
    page.set_extra_http_headers({"User-Agent": firefox})
    browser_login(page, site, "ann@example.org")
    page.click(".bar a:has-text('Sessions')")
    expect(page.locator(".sessions strong")).to_have_count(2)
    names = page.locator(".sessions strong").all_inner_texts()
    assert sorted(names) == ["Firefox on Linux", "Unknown browser"]
    assert page.get_attribute(".sessions strong:has-text('Firefox on Linux')", "title") == firefox
