"""Shared fixtures: real folders, a real sink on loopback, a headless browser, and a guard
against leaked threads."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from relay.sink.server import Sink


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a thread (a server, an observer) running behind it."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        time.sleep(0.05)
    pytest.fail(f"test leaked threads: {[t.name for t in leaked]}")


@pytest.fixture
def pickup_dir(tmp_path: Path) -> Path:
    path = tmp_path / "pickup"
    path.mkdir()
    return path


@pytest.fixture
def sink(tmp_path: Path):
    """A real aiosmtpd sink on 127.0.0.1 storing into tmp_path/sink; stopped after the test."""
    with Sink(tmp_path / "sink") as server:
        yield server


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (make test installs it as root)")
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page():
    """A page of headless Chromium (Debian's, driven by playwright) as wide as a phone."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("needs Chromium (make test installs it as root)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 800})  # a phone
            page.set_default_timeout(10_000)
            yield page
        finally:
            browser.close()


def pytest_collection_modifyitems(items) -> None:
    """A browser test runs once more, and only, when Chromium itself went away under it (its
    process crashed: "Target page, context or browser has been closed"); any other failure of
    the test stands as it is."""
    for item in items:
        if "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=["TargetClosedError"]))
