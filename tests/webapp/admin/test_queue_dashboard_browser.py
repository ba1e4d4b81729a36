"""The queue dashboard in a real browser beside a running relay: it refreshes itself without a
reload (keeping what is ticked), and its buttons work, the relay's answer showing up by itself;
a screenshot goes to var/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from channel import status
from relay.queue.folders import DEFERRED, HOLD
from tests.conftest import needs_chromium
from tests.relay.relay_helpers import RunningRelay, place_queued, wait_until
from tests.webapp.accounts.test_auth import PASSWORD
from tests.webapp.admin.test_queue_dashboard import config, folder_of, upstream  # noqa: F401 - fixtures

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"   # git-ignored


def test_the_dashboard_shows_counts_refreshes_by_itself_and_holds_a_message(app, config, site,  # noqa: F811
                                                                             page):
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    first = place_queued(config, DEFERRED, to=("ann@example.org",), age=900,
                         attempts=((451, "451 4.7.1 greylisted, come back later"),))
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "root@example.org",
                                                "--name", "Root", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    with RunningRelay(config):
        wait_until(lambda: status.read(config.relay.admin_dir) is not None, what="a snapshot")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{site}/account/login")
        page.fill("#email", "root@example.org")
        page.fill("#password", PASSWORD)
        page.click("input[type=submit]")
        page.goto(f"{site}/admin/queue")
        deferred_count = "#queue-summary tr[data-folder=deferred] .count"
        assert page.inner_text(deferred_count) == "1"
        page.check(f"input[name=ids][value='{first}']")
        page.evaluate("window.notReloaded = true")

        second = place_queued(config, DEFERRED, to=("bob@example.org",))
        wait_until(lambda: page.inner_text(deferred_count) == "2", what="the count to refresh")
        page.wait_for_selector(f"input[name=ids][value='{second}']")
        assert page.evaluate("window.notReloaded") is True        # refreshed in place
        assert page.is_checked(f"input[name=ids][value='{first}']")  # what was ticked stays ticked
        assert "greylisted" in page.inner_text("#rows-deferred")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "queue-dashboard.png"), full_page=True)

        page.click("#folder-deferred button[value=hold]")
        assert "Asked the relay to hold 1 message(s)." in page.inner_text("body")
        page.wait_for_selector("#move-result[data-answered] li.ok")   # shown without a reload
        assert f"{first}: held" in page.inner_text("#move-result")
        assert folder_of(config, first) == HOLD
        wait_until(lambda: page.inner_text("#queue-summary tr[data-folder=hold] .count") == "1",
                   what="the hold count to refresh")
    assert refused == []
