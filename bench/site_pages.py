"""How fast the site's pages are on a big database: home, a question, a tag, a search, a profile,
and for a logged-in member with 100,000 notifications: the Notifications page (first and an
old page) and the bell's count (the home page as that member), and a question they open.

Fills a SQLite file (the site's migrations, then bulk inserts straight into the tables,
the search triggers included) with 20,000 members, 1,000 tags, and questions with three
answers each on average (a tenth of them unanswered; one question has 50 answers), first
10,000 questions and 30,000 answers, then up to 100,000 and 300,000. At each size it
requests every page N times through Flask's test client (as a visitor, what is read, not
logins; the member's pages logged in through the form; the page cache off, so every request
renders) and prints the median and p95 side by side. Target: every p95 under 20 ms.
With --json, ends with one JSON line: {"sizes", "pages": {page: {size: {median_ms, p95_ms}}},
"worst_p95_ms"}.

Run:  .venv/bin/python bench/site_pages.py [-n 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402

from bench.site_data import (  # noqa: E402
    ANSWERS_PER_QUESTION,
    MEMBERS,
    TAGS,
    analyze,
    busiest_member,
    fill,
    fill_members_and_tags,
    fill_notices,
)
from settings import parse_config  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.site.extensions import db  # noqa: E402

SIZES = (10_000, 100_000)
NOTICES, UNREAD = 100_000, 1_000   # the member's notifications, the newest of them unread
NOTICED = 2                        # that member's id
PASSWORD = "bench password"


def logged_in(app, user_id: int):
    """A test client logged in as the member, through the login form."""
    import re

    from webapp.accounts.models import User

    with app.app_context():
        user = db.session.get(User, user_id)
        user.set_password(PASSWORD)
        email = user.email
        db.session.commit()
    client = app.test_client()
    form = client.get("/account/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    with app.app_context():
        response = client.post("/account/login", data={"csrf_token": token, "email": email,
                                                        "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def get(client, path: str):
    # Each request in an app context of its own, as when served: else it would share the
    # bench's (its `g`, so the logged-in member of the first request, detached, in the next).
    with client.application.app_context():
        return client.get(path)


def time_pages(client, pages: dict[str, str], n: int) -> dict[str, tuple[float, float]]:
    results = {}
    for name, path in pages.items():
        assert get(client, path).status_code == 200, path  # warm the caches once
        times = []
        for _ in range(n):
            start = time.perf_counter()
            response = get(client, path)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200
        results[name] = (statistics.median(times) * 1000, statistics.quantiles(times, n=20)[-1] * 1000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="requests per page and size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    Path("var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-pages-", dir="var")).resolve()
    rng = random.Random(11)
    measured: dict[int, dict[str, tuple[float, float]]] = {}
    try:
        # No page cache: every request renders its page, the cost this bench is about.
        config = parse_config({"pickup": {"dir": "pickup"}, "webapp": {"database_url": "sqlite:///site.db",
                                                                      "page_cache_ttl": "0s"}},
                              base_dir=work, source=None)
        app = create_app(config)
        with app.app_context():
            upgrade()
            connection = db.engine.connect()
            fill_members_and_tags(connection)
            fill_notices(connection, rng, NOTICED, NOTICES, UNREAD, SIZES[0])
            next_answer, done = 1, 0
            client = app.test_client()
            member = logged_in(app, NOTICED)
            for size in SIZES:
                started = time.perf_counter()
                next_answer = fill(connection, rng, done + 1, size, next_answer)
                analyze(connection)
                done = size
                print(f"filled {size:,} questions, {next_answer - 1:,} answers "
                      f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
                pages = {"home": "/", "question (50 answers)": "/questions/1",
                         "tag": "/tags/tag-17", "search, two rare words": "/search?q=sqlite+index",
                         "search, a common word": "/search?q=python",
                         "profile": f"/members/{busiest_member(connection)}"}
                as_member = {"bell (home, member)": "/", "notifications": "/notifications",
                             "notifications, old page": f"/notifications?before={NOTICES // 2}",
                             "question (member)": "/questions/2"}
                db.session.remove()
                measured[size] = time_pages(client, pages, args.n) | time_pages(member, as_member, args.n)
            connection.close()
            db.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"N = {args.n} requests per page, Flask test client, SQLite file; "
          f"{MEMBERS:,} members, {TAGS:,} tags, {ANSWERS_PER_QUESTION} answers a question")
    header = "".join(f"{f'{s:,} q: median':>18}{'p95':>8}" for s in SIZES)
    print(f"{'page (ms)':24}{header}")
    for name in measured[SIZES[0]]:
        cells = "".join(f"{measured[s][name][0]:18.2f}{measured[s][name][1]:8.2f}" for s in SIZES)
        print(f"{name:24}{cells}")
    worst = max(p95 for per_size in measured.values() for _, p95 in per_size.values())
    print(f"worst p95: {worst:.2f} ms (target: under 20 ms)")
    if args.json:
        pages = {name: {str(s): {"median_ms": round(measured[s][name][0], 2),
                                 "p95_ms": round(measured[s][name][1], 2)} for s in SIZES}
                 for name in measured[SIZES[0]]}
        print(json.dumps({"sizes": list(SIZES), "worst_p95_ms": round(worst, 2), "pages": pages}))


if __name__ == "__main__":
    main()
