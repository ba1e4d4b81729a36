"""How fast the web inbox's pages answer over a big Maildir (what a person waits for).

Fills a fresh Maildir with N messages (default 100,000; one word in every message, a rare one in
every 10,000th), times the index's build from it, then serves it with InboxServer on 127.0.0.1
and times whole HTTP GETs (a new connection each, as a browser's first request) of: the newest
page, a page half-way down by its Older cursor, a search for the common word, for the rare one,
for a sender (from:), and a message's page. Each case: WARMUP untimed requests, then ROUNDS
timed; median and p95 in milliseconds. The JSON API has its own figures (bench/inbox.py).
With --live instead: new_to_browser_ms, from the sink's 250 to the new row in an open list page
(headless Chromium, the test extra's playwright), LIVE_SENDS messages one at a time.

Run:  .venv/bin/python bench/inbox_pages.py [-n N] [--dir PATH] [--json] [--live]
The Maildir goes in a fresh PATH/bench-XXXX (default ./var; --dir /dev/shm for tmpfs),
removed at the end. The machine is shared: compare cases within one run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import smtplib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: tests.conftest

from relay.sink.inbox import InboxServer  # noqa: E402
from relay.sink.index import MessageIndex  # noqa: E402
from relay.sink.maildir import Maildir  # noqa: E402

WARMUP = 20
ROUNDS = 200
RARE_EVERY = 10_000


def fill(box: Maildir, count: int) -> None:
    for i in range(count):
        rare = " zebrafish" if i % RARE_EVERY == 0 else ""
        box.store(f"site{i % 50}@example.test", [f"user{i}@example.test"], (
            f"From: Q&A <site{i % 50}@example.test>\nTo: User {i} <user{i}@example.test>\n"
            f"Subject: New answer to question {i}\nContent-Type: text/plain; charset=utf-8\n\n"
            f"Hello User {i},\n\nthere is a new answer to your question{rare}:\n\n"
            f"https://qa.example.test/q/{i}#answer\n").encode())


def timed(port: int, path: str) -> list[float]:
    figures = []
    for n in range(WARMUP + ROUNDS):
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status}")
        if n >= WARMUP:
            figures.append((time.perf_counter() - start) * 1000)
    return figures


def cases(server: InboxServer, count: int) -> dict[str, str]:
    half = server.index.page(limit=count // 2).entries[-1].id
    newest = server.index.page(limit=1).entries[0].name
    return {"list_newest": "/", "list_halfway": f"/?before={half}",
            "search_common": "/?q=answer", "search_rare": "/?q=zebrafish",
            "search_from": "/?q=from:site7", "message": f"/messages/{newest}"}


def run(count: int, parent: Path) -> dict:
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench-", dir=parent))
    try:
        box = Maildir(root / "sink")
        start = time.perf_counter()
        fill(box, count)
        filled = time.perf_counter() - start
        start = time.perf_counter()
        with MessageIndex(box):
            pass
        built = time.perf_counter() - start
        report = {"messages": count, "fill_s": round(filled, 1), "index_build_s": round(built, 1),
                  "folder": str(parent)}
        with InboxServer(box.root) as server:
            for name, path in cases(server, count).items():
                figures = timed(server.port, path)
                report[f"{name}_median_ms"] = round(statistics.median(figures), 1)
                report[f"{name}_p95_ms"] = round(statistics.quantiles(figures, n=20)[18], 1)
        return report
    finally:
        shutil.rmtree(root, ignore_errors=True)


LIVE_SENDS = 40
_RECORD_ROWS = """window.seen = {};
new MutationObserver(changes => { for (const change of changes) for (const row of change.addedNodes)
  if (row.dataset && row.dataset.id) window.seen[row.querySelector("td.subject a").textContent] = Date.now();
}).observe(document.querySelector("table.messages tbody"), {childList: true});"""


def new_to_browser(parent: Path) -> dict:
    """Milliseconds from the 250 to the row in the page (both clocks this machine's wall clock)."""
    from playwright.sync_api import sync_playwright

    from relay.sink.server import Sink
    from tests.conftest import BROWSER_FLAGS, CHROMIUM

    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench-", dir=parent))
    figures = []
    try:
        with (Sink(root / "sink") as sink, InboxServer(sink.maildir.root) as inbox,
              sync_playwright() as playwright):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
            # the measuring script is the bench's, not the page's: let it past the page's CSP
            page = browser.new_context(bypass_csp=True).new_page()
            page.goto(inbox.url)
            page.wait_for_selector("body[data-live=open]", state="attached")
            page.evaluate(_RECORD_ROWS)
            with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=10) as client:
                for i in range(LIVE_SENDS):
                    client.sendmail("a@example.test", ["b@example.test"],
                                    f"Subject: live {i}\r\n\r\nx\r\n".encode())
                    answered = time.time() * 1000
                    page.wait_for_function(f"window.seen['live {i}']", timeout=5000)
                    figures.append(page.evaluate(f"window.seen['live {i}']") - answered)
            browser.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = figures[5:]   # the first few warm the browser and the index
    return {"sends": len(figures), "new_to_browser_median_ms": round(statistics.median(figures), 1),
            "new_to_browser_p95_ms": round(statistics.quantiles(figures, n=20)[18], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="messages in the Maildir")
    parser.add_argument("--dir", type=Path, default=Path("var"), help="where the Maildir goes")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--live", action="store_true", help="time a new message to an open page")
    args = parser.parse_args()
    if args.live:
        print(json.dumps(new_to_browser(args.dir)))
        return
    report = run(args.n, args.dir)
    if args.json:
        print(json.dumps(report))
        return
    print(f"{report['messages']:,} messages in {report['folder']}: filled in {report['fill_s']} s, "
          f"indexed in {report['index_build_s']} s")
    for key in [k for k in report if k.endswith("_median_ms")]:
        case = re.sub(r"_median_ms$", "", key)
        print(f"  {case:<15} median {report[key]:>6} ms   p95 {report[case + '_p95_ms']:>6} ms")


if __name__ == "__main__":
    main()
