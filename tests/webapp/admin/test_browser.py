"""Issue 13 in a real browser: an admin sends a newsletter to 201 members and watches it go out
through the relay to the smart host, watches mail wait while the smart host is down, and retries
it from the dashboard; a member who is not an admin gets 403 on every admin page and POST.
Screenshots of the newsletter's progress and of the dashboard (mail waiting, then retried) go to
var/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import insert

from channel import status
from tests.configs import SITE, build_config
from tests.conftest import needs_chromium
from tests.ports import free_port
from tests.relay.relay_helpers import RunningRelay, wait_until
from tests.smtp_servers import FaultyServer
from tests.webapp.accounts.test_auth import PASSWORD
from tests.webapp.conftest import csrf_token
from tests.webapp.qa_helpers import ask, member
from webapp.accounts.models import User
from webapp.mail.fanout import FanoutWorker
from webapp.site.database import utcnow
from webapp.site.extensions import db

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"   # git-ignored
MEMBERS = 200
BODY = "Hello all, **big news**: the site now *threads* notifications.\n\n- one\n- two\n"
ADMIN_ENDPOINTS = ("newsletter_admin.", "queue_dashboard.", "admin_members.", "moderation.")
LANDING_PAGES = ("/admin/newsletter", "/admin/queue", "/admin/members")


@pytest.fixture
def upstream():
    """The smart host: a real SMTP server the test stops and starts again on the same port."""
    with FaultyServer(port=free_port()) as server:
        yield server


@pytest.fixture
def config(tmp_path, upstream):
    """One config for the site and the relay: the relay publishes the dashboard's status, and a
    smart host that cannot be reached cools down for up to a minute (only a retry ends it early)."""
    return build_config(tmp_path, SITE, relay={
        "retry_schedule": ["1s"], "connections": 2, "smarthost_cooldown": "1m",
        "admin_dir": "var/relay-admin", "smarthost": {"port": upstream.port, "timeout": "2s"}})


class OutboxWorker:
    """`flask outbox-worker` in a thread with its own app context; stopped and joined on exit."""

    def __init__(self, app):
        self.app = app
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="outbox-worker")

    def _run(self) -> None:
        with self.app.app_context():
            worker = FanoutWorker(poll=0.1)
            try:
                worker.run(self.stopping.is_set)
            finally:
                worker.close()
                db.session.remove()

    def __enter__(self) -> OutboxWorker:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the outbox worker did not stop"


def add_members(app, count: int) -> None:
    """`count` activated members with the newsletter on, in one INSERT."""
    now = utcnow()
    with app.app_context():
        db.session.execute(insert(User), [
            {"email": f"m{n}@example.org", "display_name": f"Member {n}", "password_hash": "x",
             "activated_at": now, "newsletter": True} for n in range(count)])
        db.session.commit()


def create_admin(app) -> None:
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "root@example.org",
                                                "--name", "Root", "--password", PASSWORD])
    assert result.exit_code == 0, result.output


def log_in(page, site: str, email: str) -> None:
    page.goto(f"{site}/account/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/account/login" not in url)


def delivered(upstream, subject: str) -> int:
    return sum(f"Subject: {subject}".encode() in r.content for r in upstream.received)


def test_an_admin_sends_a_newsletter_and_retries_what_waited_while_the_smart_host_was_down(
        app, config, upstream, site, page):
    add_members(app, MEMBERS)
    create_admin(app)
    audience = MEMBERS   # the admin made on the command line has not asked for the newsletter
    page.set_viewport_size({"width": 1280, "height": 900})
    with RunningRelay(config) as relay, OutboxWorker(app):
        wait_until(lambda: status.read(config.relay.admin_dir) is not None, what="a snapshot")
        log_in(page, site, "root@example.org")

        # Write, preview, send: the progress page follows the fan-out by itself.
        page.goto(f"{site}/admin/newsletter")
        page.fill("#subject", "News from Q&A")
        page.fill("#body", BODY)
        page.click("button[value=preview]")
        assert "<strong>big news</strong>" in page.inner_html(".preview-html")
        assert "<li>one</li>" in page.inner_html(".preview-html")
        assert "big news" in page.inner_text(".preview-text")        # text, not Markdown
        assert "**" not in page.inner_text(".preview-text")
        send = page.locator("button[value=send]")
        assert send.inner_text() == f"Send to {audience} members"
        page.check("#confirmed")   # sending cannot be undone: the box says so
        send.click()
        page.wait_for_url(re.compile(r"/admin/newsletter/\d+$"))
        page.evaluate("window.notReloaded = true")
        page.wait_for_function(
            "() => document.querySelector('[data-field=state]').textContent === 'done'",
            timeout=30_000)
        assert page.inner_text("[data-field=written]") == str(audience)
        assert page.inner_text("[data-field=audience]") == str(audience)
        assert page.evaluate("window.notReloaded") is True    # it refreshed itself
        assert all(page.is_hidden(f"button[data-action={a}]") for a in ("pause", "resume", "cancel"))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "broadcast.png"), full_page=True)

        # The dashboard while the relay delivers them all to the smart host.
        page.goto(f"{site}/admin/queue")
        wait_until(lambda: delivered(upstream, "News from Q&A") == audience, timeout=60,
                   what="every newsletter delivered")
        page.wait_for_function(
            f"() => document.querySelector('#queue-summary .rate').textContent"
            f".includes('{audience} in the last 5 minutes')", timeout=15_000)
        assert "answering" in page.inner_text("#queue-summary .smarthost")

        # The smart host goes down; the site writes three more mails (tests of a newsletter).
        upstream.stop()
        page.goto(f"{site}/admin/newsletter")
        page.fill("#subject", "Draft")
        page.fill("#body", BODY)
        for _ in range(3):
            with page.expect_navigation():
                page.click("button[value=test]")
            assert "A test is on its way" in page.inner_text("body")
        page.goto(f"{site}/admin/queue")
        deferred_count = "#queue-summary tr[data-folder=deferred] .count"
        page.wait_for_function(f"() => document.querySelector('{deferred_count}').textContent === '3'",
                               timeout=30_000)
        page.wait_for_function(
            "() => document.querySelectorAll('#rows-deferred input[name=ids]').length === 3")
        reasons = page.inner_text("#rows-deferred")
        assert reasons.count(f"connection to 127.0.0.1:{upstream.port} refused") == 3, reasons
        assert "NOT USABLE" in page.inner_text("#queue-summary .smarthost")
        page.screenshot(path=str(SCREENSHOTS / "queue-dashboard-deferred.png"), full_page=True)

        # It comes back while the relay waits out a long pause; the admin ticks every deferred
        # message and presses Retry, and they go at once, well before the pause would end.
        backoff = relay.smarthosts.hosts[0].backoff
        wait_until(lambda: backoff.down_until - time.time() > 6, timeout=30,
                   what="the relay to pause for longer than the retry needs")
        pause_ends = backoff.down_until
        upstream.start_again()
        page.check("#folder-deferred .select-all")
        page.click("#folder-deferred button[value=retry]")
        page.wait_for_selector("#move-result[data-answered]")   # the relay's answer, shown by itself
        assert page.locator("#move-result li.ok").count() == 3, page.inner_text("#move-result")
        assert "due now" in page.inner_text("#move-result li.ok >> nth=0")
        wait_until(lambda: delivered(upstream, "[test] Draft") == 3, timeout=15,
                   what="the retried messages delivered")
        assert time.time() < pause_ends, "delivered only when the pause ended, not by the retry"
        page.wait_for_function(f"() => document.querySelector('{deferred_count}').textContent === '0'",
                               timeout=15_000)
        assert "answering" in page.inner_text("#queue-summary .smarthost")
        page.screenshot(path=str(SCREENSHOTS / "queue-dashboard-retry.png"), full_page=True)
    assert len(upstream.received) == audience + 3


def admin_requests(app, values: dict) -> list[tuple[str, str]]:
    """(method, path) for every admin page and POST, from the app's own URL map."""
    asked = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(ADMIN_ENDPOINTS):
            continue
        choices = [{}]
        for name in sorted(rule.arguments):
            converter = rule._converters[name]
            options = sorted(converter.items) if hasattr(converter, "items") else [values[name]]
            choices = [{**c, name: o} for c in choices for o in options]
        for method in sorted(rule.methods & {"GET", "POST"}):
            asked += [(method, rule.build(c, append_unknown=False)[1]) for c in choices]
    return asked


def database_dump(app) -> list[str]:
    """Every row of the site's SQLite database, but the login sessions' (they note the last visit)."""
    with app.app_context():
        path = db.engine.url.database
    conn = sqlite3.connect(path)
    try:
        return [line for line in conn.iterdump() if not line.startswith('INSERT INTO "login_sessions"')]
    finally:
        conn.close()


def test_a_member_who_is_not_an_admin_gets_403_on_every_admin_page_and_post(app, config, site,
                                                                               page):
    create_admin(app)
    ann = member(app, config, "Ann")
    question = ask(ann)
    with app.app_context():
        ann_id = db.session.execute(db.select(User.id).filter_by(email="ann@example.org")).scalar()
        from webapp.mail import newsletter
        root = db.session.execute(db.select(User).filter_by(email="root@example.org")).scalar_one()
        sent = newsletter.start(root, "Earlier news", BODY)
        db.session.commit()
        newsletter_id = sent.id
    asked = admin_requests(app, {"newsletter_id": newsletter_id, "user_id": ann_id, "kind": "questions",
                                 "post_id": question, "question_id": question})
    assert len(asked) >= 15 and ("POST", "/admin/queue/move") in asked
    before = database_dump(app), sorted(p.name for p in config.pickup.dir.iterdir())
    token = csrf_token(ann, "/")
    form = {"csrf_token": token, "subject": "x", "body": BODY, "action": "send", "move": "delete",
            "ids": ["0" * 24], "reason": "spam"}
    for method, path in asked:
        response = ann.get(path) if method == "GET" else ann.post(path, data=form)
        assert response.status_code == 403, (method, path, response.status_code)
    after = database_dump(app), sorted(p.name for p in config.pickup.dir.iterdir())
    assert after == before
    requests = config.relay.admin_dir / "requests"
    assert not requests.exists() or not list(requests.iterdir())

    log_in(page, site, "ann@example.org")
    for path in LANDING_PAGES:
        response = page.goto(f"{site}{path}")
        assert response.status == 403, path
