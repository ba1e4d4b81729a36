"""Does the sink's inbox stay fast with 100,000 messages, and how fast does `relay sink` take mail?

fill_s             N messages (site-like: activations, password resets, answer notifications,
                   digests, HTML newsletters; 5,000 recipients, 12 senders, titles from a
                   vocabulary; ~1-3 KB) written straight into a fresh Maildir's new/
index_build_s      MessageIndex.sync() building inbox.sqlite from that Maildir (the first start
                   of `relay inbox` over it, or a start after the index was lost)
list_p95_ms        GET /api/v1/messages?limit=50 through HTTP (a real InboxServer, a new
                   connection a request): the first page and pages at random depths by cursor
search_p95_ms      GET /api/v1/search?query=...&limit=50: the worse p95 of a word in one message
                   (rare) and a word in every message (common), each with its total count
*_after_change_p95_ms  the same right after the inbox changed (a message marked read or
                   unread between two requests), when the index counts the matches again
                   (between changes it reuses its counts)
wait_ms            GET /api/v1/wait for the rare word (already there): p95
new_to_browser_ms  a message sent to a running `relay sink` (the real command) storing into the
                   same Maildir: from its SMTP 250 (the client's sendmail() returning) to its
                   row in the inbox's list page open in headless Chromium, put there by the
                   page's own live script; page and Python clocks matched before each message
                   (performance.timeOrigin + now() against time.time(); the round trip's half
                   is printed as the error bar); median and max of --live messages
receive_per_s      `relay sink` (a subprocess, its own fresh Maildir, no inbox) taking
                   --receive-n messages of 2 KB from 4 SMTP clients in parallel processes, one
                   connection each, first MAIL FROM to last 250; beside Postfix's C smtp-sink
                   in the same run (smtp_sink_receive_per_s), and Mailpit's published figure
                   ("approximately 70-100 emails per second", its README), not measured here

Run:  .venv/bin/python bench/inbox.py [--n 100000] [--receive-n 5000] [--live 20] [--dir DIR]
          [--json]
Works in a fresh DIR/bench-inbox-XXXX (default DIR ./var: the root filesystem; --dir /dev/shm
for tmpfs), removed at the end. The machine is shared: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import smtplib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: relay, tests.ports

from inbound import send_all  # noqa: E402
from relay_throughput import SMTP_SINK, Sink, filesystem_of, stop  # noqa: E402

from relay.sink.inbox import InboxServer  # noqa: E402
from relay.sink.index import MessageIndex  # noqa: E402
from relay.sink.maildir import Maildir  # noqa: E402
from tests.conftest import BROWSER_FLAGS  # noqa: E402
from tests.ports import free_port  # noqa: E402

RARE, COMMON = "zanzibar", "account"   # RARE in one message; COMMON in every footer
SAMPLES = 100
MAILPIT_PUBLISHED = "70-100/s (Mailpit README: 'approximately 70-100 emails per second')"
VOCABULARY = ("python flask sqlite relay pickup folder queue smtp postfix thread process socket "
              "index search cursor page template header encoding unicode deploy nginx gunicorn "
              "docker cache redis worker cron backup restore migrate schema column table "
              "request response session cookie login logout token link signal timeout retry").split()
SENDERS = [f"{who}@{site}" for who in ("noreply", "notifications", "digest", "news")
           for site in ("qa.example.test", "ask.example.test", "forum.example.test")]
FOOTER = ("\n--\nYou get this mail because you have an account at Q&A. Change what we send you at "
          "https://qa.example.test/account/settings\n")


def title(rng: random.Random) -> str:
    words = rng.sample(VOCABULARY, 4)
    return f"How do I {words[0]} a {words[1]} {words[2]} with {words[3]}?"


def paragraph(rng: random.Random, words: int = 60) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words)).capitalize() + ".\n"


def site_message(i: int, rng: random.Random, rare: bool = False) -> tuple[str, str, bytes]:
    """(sender, recipient, message) of the i-th message: one of five kinds of site mail."""
    sender, to = rng.choice(SENDERS), f"member{rng.randrange(5000)}@example.org"
    kind, token = i % 10, f"{rng.getrandbits(96):024x}"
    if kind < 2:
        subject, body = "Activate your account", (
            f"Hello,\n\nopen this link to activate:\nhttps://qa.example.test/account/activate/{token}\n")
    elif kind == 2:
        subject, body = "Reset your password", (
            f"Someone asked to reset your password:\nhttps://qa.example.test/account/reset/{token}\n")
    elif kind < 7:
        subject = f"New answer: {title(rng)}"
        body = f"{paragraph(rng)}\nhttps://qa.example.test/questions/{i}#answer-{token[:6]}\n"
    else:
        subject = f"Your daily digest: {kind} new answers"
        body = "".join(f"* {title(rng)}\n  https://qa.example.test/questions/{rng.randrange(10**6)}\n"
                       for _ in range(kind))
    if rare:
        body += f"\nPS: the meetup moves to {RARE.capitalize()}.\n"
    head = (f"From: Q&A <{sender}>\nTo: {to}\nSubject: {subject}\n"
            f"Message-ID: <{token}@qa.example.test>\nDate: Sun, 06 Dec 2026 12:00:00 +0000\n"
            "MIME-Version: 1.0\n")
    if kind == 9:   # a newsletter: text and HTML
        text = body + paragraph(rng, 120) + FOOTER
        html = "".join(f"<p>{line}</p>" for line in text.splitlines() if line)
        content = (head + 'Content-Type: multipart/alternative; boundary="nl"\n\n--nl\n'
                   f"Content-Type: text/plain; charset=utf-8\n\n{text}\n--nl\n"
                   f"Content-Type: text/html; charset=utf-8\n\n<html><body>{html}</body></html>\n"
                   "--nl--\n")
    else:
        content = head + f"Content-Type: text/plain; charset=utf-8\n\n{body}{FOOTER}"
    return sender, to, content.encode()


def fill(root: Path, n: int) -> float:
    """n site messages written into root/new/ as the sink stores them; seconds taken."""
    Maildir(root)
    rng, started = random.Random(23), time.monotonic()
    for i in range(n):
        sender, to, content = site_message(i, rng, rare=i == n // 3)
        data = f"X-Envelope-From: <{sender}>\nX-Envelope-To: <{to}>\n".encode() + content
        fd = os.open(root / "new" / f"{1_700_000_000_000_000_000 + i}.P1Q{i}.bench",
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    return time.monotonic() - started


def build_index(root: Path) -> float:
    index = MessageIndex(Maildir(root))
    try:
        started = time.monotonic()
        index.sync()
        return time.monotonic() - started
    finally:
        index.stop()


def get_ms(port: int, path: str) -> tuple[float, dict]:
    """Milliseconds for one GET on a new connection, and its JSON."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return (time.perf_counter() - started) * 1000, json.loads(body)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def api_figures(port: int, n: int) -> dict:
    rng = random.Random(5)
    for _ in range(5):   # warm-up: the first requests read the index from disk
        get_ms(port, "/api/v1/messages?limit=50")
    first = [get_ms(port, "/api/v1/messages?limit=50")[0] for _ in range(SAMPLES)]
    deep = [get_ms(port, f"/api/v1/messages?limit=50&before={rng.randint(51, n)}")[0]
            for _ in range(SAMPLES)]
    found = {}
    for word in (RARE, COMMON):
        times = [get_ms(port, f"/api/v1/search?query={word}&limit=50") for _ in range(SAMPLES)]
        found[word] = {"p95_ms": p95([t for t, _ in times]), "total": times[0][1]["total"]}
    wait = [get_ms(port, f"/api/v1/wait?query={RARE}&timeout=5")[0] for _ in range(SAMPLES // 2)]
    return {"list_first_p95_ms": p95(first), "list_deep_p95_ms": p95(deep),
            "list_p95_ms": p95(first + deep), "search": found,
            "search_p95_ms": max(f["p95_ms"] for f in found.values()), "wait_ms": p95(wait),
            "after_change": after_change(port)}


def after_change(port: int) -> dict:
    """p95 ms of the first page and of each search right after the inbox changed (a message
    marked read or unread), when the index counts the matches again."""
    some = get_ms(port, "/api/v1/messages?limit=1")[1]["messages"][0]["id"]
    figures = {}
    for label, path in (("list", "/api/v1/messages?limit=50"),
                        (RARE, f"/api/v1/search?query={RARE}&limit=50"),
                        (COMMON, f"/api/v1/search?query={COMMON}&limit=50")):
        samples = []
        for k in range(SAMPLES // 2):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("PUT", "/api/v1/messages",
                                   json.dumps({"ids": [some], "read": k % 2 == 0}))
                connection.getresponse().read()
            finally:
                connection.close()
            samples.append(get_ms(port, path)[0])
        figures[label] = p95(samples)
    return figures


# Marks when each row the page's own script (static/inbox/live.js) inserts comes into the DOM.
_RECORD_ROWS = """() => { window.arrived = {};
  new MutationObserver(changes => { for (const change of changes) for (const row of change.addedNodes)
    if (row.dataset && row.dataset.id) window.arrived[row.querySelector("td.subject a").textContent] =
      performance.timeOrigin + performance.now();
  }).observe(document.querySelector("table.messages tbody"), {childList: true}); }"""


def new_to_browser_ms(inbox_url: str, smtp_port: int, rounds: int) -> dict | None:
    """From the 250 for a message to its row in the inbox's list page, open in headless
    Chromium and updated by its own live script: median and max ms over `rounds` messages."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_FLAGS)
        try:
            page = browser.new_page()
            page.goto(inbox_url)
            page.wait_for_selector("body[data-live=open]", state="attached")   # its stream is open
            page.evaluate(_RECORD_ROWS)
            delays, errors = [], []
            with smtplib.SMTP("127.0.0.1", smtp_port, local_hostname="localhost", timeout=30) as smtp:
                for k in range(rounds):
                    offset, error = clock_offset(page)
                    subject = f"Live update {k}"
                    smtp.sendmail("noreply@qa.example.test", ["ann@example.org"],
                                  f"From: noreply@qa.example.test\r\nTo: ann@example.org\r\n"
                                  f"Subject: {subject}\r\n\r\nHello.\r\n".encode())
                    sent = time.time() * 1000
                    seen = f"window.arrived[{json.dumps(subject)}]"
                    page.wait_for_function(f"() => {seen} !== undefined", timeout=10_000)
                    delays.append(page.evaluate(seen) - offset - sent)
                    errors.append(error)
                    time.sleep(0.1)
        finally:
            browser.close()
    return {"median_ms": statistics.median(delays), "max_ms": max(delays),
            "clock_error_ms": statistics.median(errors)}


def clock_offset(page) -> tuple[float, float]:
    """The page's epoch clock minus Python's, in ms, and half the round trip that measured it."""
    before = time.time() * 1000
    in_page = page.evaluate("performance.timeOrigin + performance.now()")
    after = time.time() * 1000
    return in_page - (before + after) / 2, (after - before) / 2


def receive_share(port: int, first: int, count: int) -> float:
    """One client: `count` 2 KB messages over one connection; when its last got its 250."""
    words = paragraph(random.Random(first), 300)[:1800]
    padding = "\r\n".join(words[at:at + 72] for at in range(0, len(words), 72))
    with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=60) as smtp:
        for i in range(first, first + count):
            smtp.sendmail("noreply@qa.example.test", [f"member{i}@example.org"],
                          (f"From: noreply@qa.example.test\r\nTo: member{i}@example.org\r\n"
                           f"Subject: Message {i}\r\n\r\n{padding}\r\n").encode())
    return time.monotonic()


def receive_rate(kind: str, parent: Path, n: int, clients: int) -> float:
    """Messages a second `kind` ("relay": `relay sink`, or "smtp-sink") takes from `clients`."""
    work = Path(tempfile.mkdtemp(prefix="bench-inbox-receive-", dir=parent))
    port = free_port()
    sink = Sink(kind, work, port)
    try:
        seconds = send_all(port, n, clients, share=receive_share)
        if kind == "relay" and (stored := Maildir(work / "sink").count()) != n:
            raise RuntimeError(f"relay sink stored {stored} of {n}")
        return n / seconds
    finally:
        stop(sink.proc)
        shutil.rmtree(work, ignore_errors=True)


def inbox_figures(work: Path, n: int, live: int) -> dict:
    """Fill, index, then measure the API and the live path with `relay sink` storing beside."""
    root = work / "sink"
    figures = {"fill_s": fill(root, n)}
    print(f"  filled {n} messages in {figures['fill_s']:.1f} s", flush=True)
    figures["index_build_s"] = build_index(root)
    print(f"  index built in {figures['index_build_s']:.1f} s", flush=True)
    with InboxServer(root) as inbox:
        figures |= api_figures(inbox.port, n)
        smtp_port = free_port()
        sink = Sink("relay", work, smtp_port)   # stores into work/sink: the inbox's Maildir
        try:
            figures["live"] = new_to_browser_ms(inbox.url, smtp_port, live)
        finally:
            stop(sink.proc)
    return figures


def report(figures: dict, receive: float, smtp_sink: float | None) -> None:
    print(f"  list  p95 {figures['list_p95_ms']:7.1f} ms   (first page {figures['list_first_p95_ms']:.1f}, "
          f"deep pages by cursor {figures['list_deep_p95_ms']:.1f})")
    for word, found in figures["search"].items():
        print(f"  search {word!r:12} p95 {found['p95_ms']:7.1f} ms   ({found['total']} found)")
    changed = figures["after_change"]
    print(f"  right after a change  p95 list {changed['list']:.1f} ms, search {RARE!r} "
          f"{changed[RARE]:.1f} ms, {COMMON!r} {changed[COMMON]:.1f} ms (counted again)")
    print(f"  wait (already there) p95 {figures['wait_ms']:.1f} ms")
    live = figures["live"]
    if live is None:
        print("  new -> browser  SKIPPED: no Chromium")
    else:
        print(f"  new -> browser  median {live['median_ms']:.1f} ms, max {live['max_ms']:.1f} ms "
              f"(clocks matched to ±{live['clock_error_ms']:.1f} ms)")
    print(f"  relay sink receives   {receive:8.0f} msgs/s (4 clients)")
    if smtp_sink is not None:
        print(f"  Postfix smtp-sink     {smtp_sink:8.0f} msgs/s   relay sink / smtp-sink "
              f"{receive / smtp_sink:.2f}x")
    print(f"  Mailpit, published    {MAILPIT_PUBLISHED}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages in the Maildir")
    parser.add_argument("--receive-n", type=int, default=5000, help="messages for receive_per_s")
    parser.add_argument("--clients", type=int, default=4, help="parallel SMTP clients (default 4)")
    parser.add_argument("--live", type=int, default=20, help="messages timed to the browser")
    parser.add_argument("--dir", default="var", help="where the work folder goes (default ./var)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    parent = Path(args.dir).resolve()
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-inbox-", dir=parent))
    print(f"{args.n} messages in {work} ({filesystem_of(str(work))})", flush=True)
    try:
        figures = inbox_figures(work, args.n, args.live)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    receive = receive_rate("relay", parent, args.receive_n, args.clients)
    smtp_sink = (receive_rate("smtp-sink", parent, args.receive_n, args.clients)
                 if os.access(SMTP_SINK, os.X_OK) else None)
    report(figures, receive, smtp_sink)
    if args.json:
        live = figures["live"] or {}
        print(json.dumps({
            "n": args.n, "filesystem": filesystem_of(str(parent)),
            "fill_s": round(figures["fill_s"], 1), "index_build_s": round(figures["index_build_s"], 1),
            "list_p95_ms": round(figures["list_p95_ms"], 2),
            "list_first_p95_ms": round(figures["list_first_p95_ms"], 2),
            "list_deep_p95_ms": round(figures["list_deep_p95_ms"], 2),
            "search_p95_ms": round(figures["search_p95_ms"], 2),
            "search_rare_p95_ms": round(figures["search"][RARE]["p95_ms"], 2),
            "search_common_p95_ms": round(figures["search"][COMMON]["p95_ms"], 2),
            "list_after_change_p95_ms": round(figures["after_change"]["list"], 2),
            "search_after_change_p95_ms": round(max(figures["after_change"][RARE],
                                                    figures["after_change"][COMMON]), 2),
            "wait_ms": round(figures["wait_ms"], 2),
            "new_to_browser_ms": round(live["median_ms"], 1) if live else None,
            "new_to_browser_max_ms": round(live["max_ms"], 1) if live else None,
            "receive_per_s": round(receive, 1),
            "smtp_sink_receive_per_s": round(smtp_sink, 1) if smtp_sink else None,
            "mailpit_published_per_s": "70-100",
        }))


if __name__ == "__main__":
    main()
