"""Exactly once under SIGKILL: fan-out workers killed at random moments and restarted leave
one pickup file per follower per event, on SQLite and on PostgreSQL.

Real `flask --app webapp outbox-worker` processes on a real config file; no relay runs,
so every file the workers publish stays in pickup to be counted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.configs import SITE, config_file
from tests.webapp.conftest import needs_postgres

FOLLOWERS = 2000
SMALL_THREADS = (200, 200)   # two more questions, so two workers have events to share
ROUNDS = 4                   # each worker is SIGKILLed once a round
STARTUP_TIMEOUT = 20         # seconds a worker may take to start
WORKER_TIMEOUT = 60          # seconds the last, uninterrupted run may take
SEED = int(os.environ.get("OUTBOX_CRASH_SEED", "20261128"))   # another seed: other kill moments


def site_config_file(tmp_path: Path, database_url: str) -> Path:
    return config_file(tmp_path, SITE, webapp={"database_url": database_url, "notification_delay": "0s"})


def seed(config_path: Path, sizes=(FOLLOWERS, *SMALL_THREADS)) -> dict[int, set[str]]:
    """Migrate; add an asker, an answerer and max(sizes) activated members; a question per
    size followed by that many of them, with one answer each (an outbox event each).
    Returns each event's expected recipients."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from settings import load_config
    from webapp import create_app
    from webapp.accounts.models import User
    from webapp.mail import outbox
    from webapp.mail.kinds import EventKind
    from webapp.posts.models import Answer, Question, Subscription
    from webapp.site.database import utcnow
    from webapp.site.extensions import db

    app = create_app(load_config(config_path))
    expected = {}
    with app.app_context():
        upgrade()
        now = utcnow()
        db.session.execute(insert(User), [
            {"email": f"m{n}@example.org", "display_name": f"Member {n}", "password_hash": "x",
             "activated_at": now} for n in range(max(sizes) + 2)])
        asker, answerer, *followers = db.session.execute(
            db.select(User.id, User.email).order_by(User.id)).all()
        for size in sizes:
            question = Question(author_id=asker.id, title=f"Question for {size}", body_source="Why?",
                                body_html="<p>Why?</p>")
            db.session.add(question)
            db.session.flush()
            answer = Answer(question_id=question.id, author_id=answerer.id, body_source="Because.",
                            body_html="<p>Because.</p>")
            db.session.add(answer)
            db.session.flush()
            db.session.execute(insert(Subscription), [
                {"user_id": f.id, "kind": "question", "target_id": question.id} for f in followers[:size]])
            outbox.record(EventKind.ANSWER, "question", question.id, answer.id, answerer.id)
            db.session.commit()
            expected[question.id] = {f.email for f in followers[:size]}
        events = db.session.execute(db.text("SELECT id, thread_id FROM outbox_events")).all()
        db.session.remove()
        db.engine.dispose()
    return {event_id: expected[thread_id] for event_id, thread_id in events}


class Workers:
    """outbox-worker processes on one config; every one started is killed in stop_all()."""

    def __init__(self, tmp_path: Path, config_path: Path):
        self.tmp_path = tmp_path
        self.pickup = tmp_path / "pickup"
        self.env = {**os.environ, "PICKUP_RELAY_CONFIG": str(config_path)}
        self.started: list[subprocess.Popen] = []

    def start(self, *extra: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"worker-{len(self.started):02d}.log", "wb")
        with log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "webapp", "outbox-worker", "--batch", "50",
                 "--lease", "2", *extra], env=self.env, cwd=Path(__file__).parents[3],
                stdout=log, stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def start_working(self, count: int) -> list[subprocess.Popen]:
        """Start `count` workers and return once each holds its placer lock in pickup (a worker
        takes a second or more to import the site: a kill before that would test nothing)."""
        before = set(self.pickup.glob(".placer-*.lock"))
        processes = [self.start() for _ in range(count)]
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while len(set(self.pickup.glob(".placer-*.lock")) - before) < count:
            assert all(p.poll() is None for p in processes), self.logs()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.02)
        return processes

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("worker-*.log")))


def receivers_in_pickup(pickup: Path) -> Counter:
    """(event id, X-Receiver) of every notification file in pickup, counted."""
    found = Counter()
    for path in pickup.glob("n*.bulk.eml"):
        event_id = int(path.name[1:].split("-", 1)[0])
        head = path.read_bytes().split(b"\r\n\r\n", 1)[0].decode()
        receivers = [line.split(":", 1)[1].strip().strip("<>") for line in head.split("\r\n")
                     if line.startswith("X-Receiver:")]
        assert len(receivers) == 1, (path.name, receivers)
        found[(event_id, receivers[0])] += 1
    return found


def delivery_rows(config_path: Path) -> tuple[Counter, list]:
    rows, events, _notices, _unread = outbox_rows(config_path)
    return rows, events


def outbox_rows(config_path: Path) -> tuple[Counter, list, Counter, dict[str, int]]:
    """The deliveries and the on-site notifications counted by (event, address), the events,
    and each member's unread counter."""
    from settings import load_config
    from webapp import create_app
    from webapp.accounts.models import User
    from webapp.mail.models import OutboxDelivery, OutboxEvent
    from webapp.notices.models import Notice
    from webapp.site.extensions import db

    app = create_app(load_config(config_path))
    with app.app_context():
        rows = Counter(db.session.execute(
            db.select(OutboxDelivery.event_id, User.email, OutboxDelivery.status).join(User)).all())
        events = db.session.execute(db.select(OutboxEvent.id, OutboxEvent.sent, OutboxEvent.done_at)
                                    .order_by(OutboxEvent.id)).all()
        notices = Counter(db.session.execute(
            db.select(Notice.event_id, User.email).join(User, User.id == Notice.user_id)).all())
        unread = dict(db.session.execute(db.select(User.email, User.unread_notices)).all())
        db.session.remove()
        db.engine.dispose()
    return rows, events, notices, unread


def kill_and_restart_at_random(workers: Workers, total: int, seed_value: int) -> int:
    """ROUNDS times: start two workers, SIGKILL one once a random number of new files is in
    pickup (placed by the count, not the clock: a fast machine cannot finish before the kill),
    then the other a random moment later. Returns how many kills landed while files were due."""
    rng = random.Random(seed_value)
    mid_work = 0
    for _ in range(ROUNDS):
        first, second = rng.sample(workers.start_working(2), 2)
        placed = len(list(workers.pickup.glob("n*.bulk.eml")))
        if placed < total:
            wait_for_count(workers, placed + rng.randrange(1, max(2, (total - placed) // ROUNDS)),
                           (first, second))
        for process in (first, second):
            mid_work += len(list(workers.pickup.glob("n*.bulk.eml"))) < total
            workers.kill(process)
            time.sleep(rng.uniform(0.0, 0.3))
    return mid_work


def wait_for_count(workers: Workers, count: int, processes, timeout: float = 30.0) -> None:
    """Until pickup holds `count` files, or both workers stopped, or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while len(list(workers.pickup.glob("n*.bulk.eml"))) < count and time.monotonic() < deadline \
            and any(p.poll() is None for p in processes):
        time.sleep(0.01)


def run_to_completion(workers: Workers, config_path: Path) -> None:
    """One worker with --once until every event is done (a killed worker's PostgreSQL backend
    may hold an event's row a moment longer, and --once stops when it finds nothing free)."""
    for _ in range(3):
        process = workers.start("--once")
        process.wait(timeout=WORKER_TIMEOUT)
        assert process.returncode == 0, workers.logs()
        _rows, events = delivery_rows(config_path)
        if all(done is not None for _e, _s, done in events):
            return


def check_exactly_once(config_path: Path, pickup: Path, expected: dict[int, set[str]],
                       workers: Workers | None) -> None:
    found = receivers_in_pickup(pickup)
    assert [key for key, count in found.items() if count > 1] == [], "duplicates"
    for event_id, emails in expected.items():
        placed = {email for (e, email) in found if e == event_id}
        assert placed == emails, (event_id, len(placed), len(emails), workers and workers.logs()[-3000:])
    assert len(list(pickup.glob("n*.bulk.eml"))) == sum(map(len, expected.values()))
    assert sorted(p.name for p in pickup.iterdir() if p.name.startswith(".")) == []
    rows, events, notices, unread = outbox_rows(config_path)
    assert all(count == 1 for count in rows.values())
    # The on-site notifications went in the deliveries' transactions: one each, none lost,
    # and every member's unread counter equals their rows.
    assert set(notices) == {(e, email) for e, emails in expected.items() for email in emails}
    assert all(count == 1 for count in notices.values())
    per_member = Counter(email for _e, email in notices)
    assert {email: n for email, n in unread.items() if n} == dict(per_member)
    for event_id, emails in expected.items():
        sent = {email for (e, email, status) in rows if e == event_id and status == "sent"}
        assert sent == emails
    assert [(e, sent) for e, sent, _done in events] == [(e, len(m)) for e, m in sorted(expected.items())]
    assert all(done is not None for _e, _s, done in events)


def crash_and_check(tmp_path: Path, database_url: str, seed_value: int) -> None:
    config_path = site_config_file(tmp_path, database_url)
    expected = seed(config_path)
    assert len(expected) == 3 and max(map(len, expected.values())) == FOLLOWERS
    pickup = tmp_path / "pickup"
    workers = Workers(tmp_path, config_path)
    try:
        total = sum(map(len, expected.values()))
        mid_work = kill_and_restart_at_random(workers, total, seed_value)
        placed_before = len(list(pickup.glob("n*.bulk.eml")))
        assert mid_work > 0, "every kill came after the work was done: nothing was tested"
        run_to_completion(workers, config_path)
    finally:
        workers.stop_all()
    print(f"\n{mid_work} of {2 * ROUNDS} kills while files were due; {placed_before} of {total} "
          f"files placed before the last run")
    check_exactly_once(config_path, pickup, expected, workers)


def test_two_workers_killed_at_random_place_each_followers_file_once_on_sqlite(tmp_path):
    crash_and_check(tmp_path, "sqlite:///var/site.db", seed_value=SEED)


@needs_postgres
def test_two_workers_killed_at_random_place_each_followers_file_once_on_postgresql(
        tmp_path, postgres_database):
    crash_and_check(tmp_path, postgres_database, seed_value=SEED + 1)
