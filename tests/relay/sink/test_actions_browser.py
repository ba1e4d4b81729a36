"""Release and upload in a real browser (headless Chromium, as wide as a phone): a file uploaded
through the page lands in pickup, a message released through the form arrives at a second sink."""

from __future__ import annotations

import pytest

from relay.sink.inbox import InboxServer
from relay.sink.server import Sink
from tests.configs import build_config
from tests.conftest import needs_chromium
from tests.relay.relay_helpers import wait_until

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium

GOOD = b"From: Site <noreply@example.test>\r\nTo: ann@example.test\r\nSubject: Password reset\r\n\r\n" \
       b"Follow the link: http://127.0.0.1:5000/reset/" + b"Zx9_-" * 30 + b"\r\n"
FITS = "document.documentElement.scrollWidth <= window.innerWidth"   # nothing wider than the phone


@pytest.fixture
def second(tmp_path):
    """The "real" SMTP server a message is released to: another sink on 127.0.0.1."""
    with Sink(tmp_path / "second") as server:
        yield server


@pytest.fixture
def inbox(tmp_path, second):
    """The inbox served for real with a config: pickup in tmp_path, release to `second`."""
    config = build_config(tmp_path, sink={"maildir": "sink", "release": {
        "host": "127.0.0.1", "port": second.port, "tls": "none", "allowed_recipients": ["example.org"]}})
    with InboxServer(config.sink.maildir, config=config) as server:
        yield server


def test_a_file_uploaded_through_the_page_is_queued_in_pickup(tmp_path, inbox, page):
    source = tmp_path / "reset.eml"
    source.write_bytes(GOOD)
    page.goto(f"{inbox.url}/upload")
    assert page.evaluate(FITS)
    page.set_input_files("#upload-files", str(source))
    page.click("button.upload")
    result = page.locator("pre.results .queued")
    assert result.inner_text().startswith("queued  reset.eml -> ")
    [placed] = (tmp_path / "pickup").iterdir()
    assert placed.read_bytes() == GOOD
    assert page.evaluate(FITS)


def test_a_message_released_through_the_form_arrives_at_the_second_sink(tmp_path, inbox, second, page):
    name = inbox.index.maildir.store("noreply@example.test", ["ann@example.test"], GOOD).name
    page.goto(f"{inbox.url}/messages/{name}/release")
    assert page.input_value("#release-to") == "ann@example.test"
    assert page.evaluate(FITS)
    page.fill("#release-to", "me@example.org")
    page.click("button.release")
    assert page.inner_text(".outcome.released") == \
        f"Released to me@example.org through 127.0.0.1:{second.port}."
    wait_until(lambda: second.maildir.count() == 1, timeout=5)
    [arrived] = second.maildir.messages()
    assert arrived.recipients == ("me@example.org",)
    assert arrived.content == GOOD.replace(b"\r\n", b"\n")   # the sink stores line ends as LF

    page.fill("#release-to", "ann@example.test")   # outside allowed_recipients
    page.click("button.release")
    assert "is not in [sink.release] allowed_recipients" in page.inner_text(".outcome.refused")
    assert second.maildir.count() == 1
