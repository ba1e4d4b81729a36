"""The sink's web inbox in a real browser (headless Chromium): mail arrives, opens, links work."""

from __future__ import annotations

import smtplib

import pytest

from relay.sink.inbox import InboxServer
from spooler.message import Address, Notification, build
from tests.conftest import needs_chromium
from tests.relay.relay_helpers import wait_until

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


@pytest.fixture
def inbox(sink):
    """The inbox of the test's sink, served for real on 127.0.0.1; stopped after the test."""
    with InboxServer(sink.maildir.root) as server:
        yield server


def indexed(inbox: InboxServer, total: int) -> None:
    """Until the inbox's index has caught up with the Maildir (it follows new/ by inotify)."""
    wait_until(lambda: inbox.index.page().total == total, timeout=5)


def test_a_message_through_the_sink_appears_and_opens_with_a_clickable_link(sink, inbox, page):
    page.goto(inbox.url)
    assert "No mail yet" in page.inner_text("main")
    link = f"{inbox.url}/?activate=" + "Zx9_-" * 30   # a link cut in three on the wire
    script = "<script>document.getElementById('mark').textContent = 'a script ran'</script>"
    message = build(Notification(
        sender=Address.parse("Q&A <noreply@example.test>"), to=[Address("zoe@example.org", "Zoë")],
        subject="Activate your account", text=f"Hello Zoë,\n\nopen this link:\n\n{link}\n",
        html=f'<p id="mark">no script ran</p>{script}<p><a id="go" href="{link}">Activate</a></p>',
    )).content
    with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=10) as client:
        client.sendmail("noreply@example.test", ["zoe@example.org"], message)

    indexed(inbox, 1)
    page.reload()
    row = page.locator("table.messages tbody tr")
    assert row.count() == 1
    assert "Zoë <zoe@example.org>" in row.inner_text() and "Q&A <noreply@example.test>" in row.inner_text()
    page.click("text=Activate your account")

    assert "Hello Zoë," in page.inner_text("pre.body")
    anchor = page.locator("pre.body a")
    assert anchor.inner_text() == link and anchor.get_attribute("href") == link
    with page.context.expect_page() as opened:
        anchor.click()
    opened.value.wait_for_load_state()
    assert opened.value.url == link  # the whole link, in a tab of its own
    opened.value.close()

    page.click("nav.tabs >> text=HTML")
    frame = page.frame_locator("iframe.html")
    assert frame.locator("#mark").inner_text() == "no script ran"
    with page.context.expect_page() as opened:
        frame.locator("#go").click()
    opened.value.wait_for_load_state()
    assert opened.value.url == link


def test_clear_inbox_empties_it_in_the_browser(sink, inbox, page):
    sink.maildir.store("a@example.test", ["b@example.test"], b"Subject: to be cleared\n\nx\n")
    indexed(inbox, 1)
    page.goto(inbox.url)
    assert page.locator("table.messages tbody tr").count() == 1
    page.click("button.clear")
    assert "No mail yet" in page.inner_text("main")
    assert sink.maildir.count() == 0
