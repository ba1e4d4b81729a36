"""Every main page in a real browser (headless Chromium), logged out, as a member and as an
admin whose display name is 80 characters without a space: at a phone's 390 px and a laptop's
1,280 px nothing scrolls sideways, and no page repeats an id. The sink's web inbox too.
Screenshots go to the test's tmp_path, or to the folder named by $LAYOUT_SCREENSHOTS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from relay.sink.inbox import InboxServer
from relay.sink.maildir import Maildir
from tests.conftest import needs_chromium
from tests.webapp.admin.test_browser import create_admin, log_in
from tests.webapp.qa_helpers import answer, ask, member, write_article

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium

WIDTHS = (390, 1280)
LONG_NAME = "Bartholomew" + "x" * 69                      # 80 characters, no space to wrap at
LONG_WORD = "Supercalifragilistic" * 5
PUBLIC = ("/", "/questions", "/questions/{question}", "/tags/python", "/members/{asker}", "/articles",
          "/articles/{article}", "/search?q=file", "/account/login", "/account/register")
MEMBERS_ONLY = ("/questions/ask", "/articles/write", "/account/settings", "/account/sessions",
                "/following", "/notifications")
ADMINS_ONLY = ("/admin/members", "/admin/newsletter", "/admin/queue")


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LAYOUT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def overflows(page, url: str, width: int, shots: Path, label: str) -> list[str]:
    """What is wrong with `url` at `width`: sideways scrolling, repeated ids (empty: nothing)."""
    page.set_viewport_size({"width": width, "height": 900})
    response = page.goto(url)
    assert response.ok, f"{url}: {response.status}"
    page.screenshot(path=str(shots / f"{label}-{width}.png"), full_page=True)
    problems = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{url} at {width}px is {scroll}px wide")
    repeated = page.evaluate("""() => {
        const seen = {};
        for (const e of document.querySelectorAll('[id]')) seen[e.id] = (seen[e.id] || 0) + 1;
        return Object.keys(seen).filter(id => seen[id] > 1); }""")
    if repeated:
        problems.append(f"{url} repeats ids {repeated}")
    return problems


def walk(page, site: str, paths, shots: Path, who: str, names: dict) -> list[str]:
    problems = []
    for path in paths:
        label = who + path.format(**names).replace("/", "_").replace("?", "_")
        for width in WIDTHS:
            problems += overflows(page, site + path.format(**names), width, shots, label)
    return problems


def test_every_main_page_fits_a_phone_and_a_laptop_without_repeated_ids(site, app, config, page, tmp_path):
    create_admin(app)
    with app.app_context():
        from webapp.accounts.models import User
        from webapp.site.extensions import db
        root = db.session.execute(db.select(User).filter_by(email="root@example.org")).scalar_one()
        root.display_name = LONG_NAME
        db.session.commit()
    asker = member(app, config, "Ann")
    question = ask(asker, title=f"How do I read {LONG_WORD} line by line?")
    answer(member(app, config, "Bob"), question, body=f"> Quoted: {LONG_WORD}\n\nUse `for line in f:`.")
    article = write_article(asker)
    with app.app_context():
        asker_id = db.session.execute(db.select(User.id).filter_by(email="ann@example.org")).scalar_one()
    names = {"question": question, "article": article, "asker": asker_id}
    shots = screenshots(tmp_path)

    problems = walk(page, site, PUBLIC, shots, "visitor", names)
    log_in(page, site, "root@example.org")
    problems += walk(page, site, PUBLIC + MEMBERS_ONLY + ADMINS_ONLY, shots, "admin", names)

    inbox = Maildir(tmp_path / "inbox")
    inbox.store("noreply@example.test", [f"{LONG_WORD}@example.org"],
                f"From: noreply@example.test\r\nTo: {LONG_WORD}@example.org\r\nSubject: A new answer to "
                f"How do I read {LONG_WORD}\r\n\r\nText.\r\n".encode())
    with InboxServer(inbox.root) as server:
        problems += walk(page, server.url, ("/",), shots, "inbox", names)
        page.set_viewport_size({"width": 390, "height": 900})
        subject = page.locator("table.messages .subject").bounding_box()
        assert subject["width"] > 300                          # a line to read, not a letter a line
        first = page.locator("table.messages .subject a").get_attribute("href")
        problems += walk(page, server.url, (first,), shots, "inbox-message", names)
    assert problems == [], "\n".join(problems)


def test_a_long_name_in_the_top_bar_is_shortened_with_the_whole_name_in_its_title(site, app, page):
    create_admin(app)
    with app.app_context():
        from webapp.accounts.models import User
        from webapp.site.extensions import db
        root = db.session.execute(db.select(User).filter_by(email="root@example.org")).scalar_one()
        root.display_name = LONG_NAME
        db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, site, "root@example.org")
    who = page.locator(".bar .who")
    assert who.get_attribute("title") == LONG_NAME
    box = who.bounding_box()
    assert box["width"] < 400                                  # shortened, the rest in the title
    log_out = page.locator(".bar button:has-text('Log out')").bounding_box()
    assert log_out["x"] + log_out["width"] <= 1280             # on screen
    page.set_viewport_size({"width": 390, "height": 800})
    for link in ("Settings", "Sessions"):
        box = page.locator(f".bar a:has-text('{link}')").bounding_box()
        assert 0 <= box["x"] and box["x"] + box["width"] <= 390, link
    page.click(".bar a:has-text('Sessions')")
    assert page.inner_text("h1") == "Your sessions"


def test_pages_show_the_sites_icon_and_ask_for_nothing_that_is_missing(site, page):
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(site + "/")
    icon = page.get_attribute("link[rel=icon]", "href")
    assert icon == "/favicon.svg"
    for path in (icon, "/favicon.ico"):                        # the second for readers without the tag
        fetched = page.request.get(site + path)
        assert fetched.ok and fetched.headers["content-type"].startswith("image/svg+xml")
        assert fetched.body().startswith(b"<svg")
    page.goto(site + "/questions")
    page.wait_for_load_state("networkidle")
    assert failed == []
