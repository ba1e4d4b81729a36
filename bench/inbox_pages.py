"""How fast the web inbox's pages answer over a big Maildir (what a person waits for).

Fills a fresh Maildir with N messages (default 100,000; one word in every message, a rare one in
every 10,000th), times the index's build from it, then serves it with InboxServer on 127.0.0.1
and times whole HTTP GETs (a new connection each, as a browser's first request) of: the newest
page, a page half-way down by its Older cursor, a search for the common word, for the rare one,
for a sender (from:), and a message's page. Each case: WARMUP untimed requests, then ROUNDS
timed; median and p95 in milliseconds. The JSON API has its own figures (bench/inbox.py).
A new message's way to an open page (new_to_browser_ms) is measured by bench/inbox.py.

Run:  .venv/bin/python bench/inbox_pages.py [-n N] [--dir PATH] [--json]
The Maildir goes in a fresh PATH/bench-XXXX (default ./var; --dir /dev/shm for tmpfs),
removed at the end. The machine is shared: compare cases within one run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="messages in the Maildir")
    parser.add_argument("--dir", type=Path, default=Path("var"), help="where the Maildir goes")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()
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
