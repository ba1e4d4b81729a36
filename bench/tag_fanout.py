"""The followed-tag part of bench/post_latency.py: asking in a tag 10,000 members follow costs
what asking in a tag nobody follows does, and its fan-out places >= 5,000 files a second.

seed_tags() makes the tags "followed" (the first FOLLOWERS members follow it) and "quiet"
(nobody does); measure_asking() times the poster's POST of the ask form in each, round-robin;
measure_tag_fanout() asks in "followed" and runs one in-process FanoutWorker on the event,
like post_latency.measure_fanout does for an answer.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from sqlalchemy import insert

from webapp.mail.fanout import FanoutWorker
from webapp.posts.models import Subscription, Tag
from webapp.site.config import site_config
from webapp.site.extensions import db

BODY = "I read the docs on `open()` but **which mode** keeps the file's old lines?"
TAGS = {"followed": "bench-followed", "quiet": "bench-quiet"}


def seed_tags(followers: int) -> None:
    """The two tags, and `followers` members (ids 1..followers) following the first, in bulk."""
    db.session.execute(insert(Tag), [{"id": 1, "name": TAGS["followed"]}, {"id": 2, "name": TAGS["quiet"]}])
    db.session.execute(insert(Subscription), [{"user_id": i, "kind": "tag", "target_id": 1}
                                              for i in range(1, followers + 1)])
    db.session.commit()


class Asker:
    """The logged-in poster (a post_latency.Poster's client) asking questions."""

    def __init__(self, client, csrf_token):
        self.client = client
        self.token = csrf_token(client, "/questions/ask")
        self.asked = 0

    def ask(self, tag: str) -> float:
        self.asked += 1
        data = {"csrf_token": self.token, "title": f"How do I append to a file? (#{self.asked})",
                "body": BODY, "tags": TAGS[tag]}
        start = time.perf_counter()
        response = self.client.post("/questions/ask", data=data)
        elapsed = time.perf_counter() - start
        if response.status_code != 302:
            raise RuntimeError(f"asking a question answered {response.status_code}")
        return elapsed


def measure_asking(asker: Asker, n: int, warmup: int) -> dict[str, float]:
    """Median ms of asking in each tag, alternating which goes first."""
    times: dict[str, list[float]] = {"quiet": [], "followed": []}
    for round_ in range(warmup + n):
        order = ("quiet", "followed") if round_ % 2 else ("followed", "quiet")
        for tag in order:
            elapsed = asker.ask(tag)
            if round_ >= warmup:
                times[tag].append(elapsed)
    return {tag: statistics.median(t) * 1e3 for tag, t in times.items()}


def measure_tag_fanout(app, asker: Asker, rounds: int, close_events, notification_files) -> list[dict]:
    """Per round: the earlier events closed and their files removed, one question asked in the
    followed tag, one worker on its event. Returns files, seconds and files/s per round."""
    pickup: Path = site_config(app).pickup.dir
    results = []
    for _ in range(rounds):
        with app.app_context():
            close_events()
        for path in notification_files(pickup):
            path.unlink()
        asker.ask("followed")
        with app.app_context():
            worker = FanoutWorker()
            try:
                start = time.perf_counter()
                finished = worker.run(lambda: False, once=True)
                seconds = time.perf_counter() - start
            finally:
                worker.close()
        files = len(notification_files(pickup))
        if finished != 1:
            raise RuntimeError(f"the worker finished {finished} events, not 1")
        results.append({"files": files, "seconds": seconds, "per_s": files / seconds})
    return results
