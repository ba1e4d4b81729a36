"""Posting an answer costs the same for 1 and for 10,000 followers; the fan-out and the relay do the rest.

A fresh work folder (config.toml, SQLite file, pickup, queue) is filled with bulk inserts:
10,000 activated members on notify_mode "instant", four questions followed by the first 1,
100, 1,000 and 10,000 of them, a poster who follows nothing, and a member who asks for a
password reset. Three measurements:
  posting latency  the poster, logged in on Flask's test client (the WSGI app in this
                   process, no HTTP server), POSTs an answer form with its CSRF token to each
                   question in turn, -n rounds after --warmup rounds; median and p95 per
                   follower count and their ratio to the 1-follower case (no worker runs: the
                   events wait in the outbox)
  fan-out          the earlier events marked done, one answer to the 10,000-follower question,
                   then an in-process FanoutWorker (once) turns it into pickup files, no relay
                   running: files written per second and this process's CPU per file; twice
                   by default, the last round is the figure (the first warms the folder); beside
                   it the folder's own ceiling, plain write + rename of the same files in
                   pickup (--profile: cProfile of the last round, by own time)
  end to end       Postfix's smtp-sink (-c: a live count on stdout; -d: one dump file per
                   message whose mtime is its arrival and whose X-Rcpt-Args is its recipient,
                   which tells the reset apart even when several connections interleave; an
                   aiosmtpd sink tops out near 1,000 msgs/s, the rate the target asks for),
                   `relay run` and `flask --app webapp outbox-worker` as subprocesses; the answer
                   is POSTed, a password reset 1 s later (POST /account/reset); seconds from
                   the answer's POST to the last of the 10,000 at the sink, and from the reset's
                   POST to its arrival.
  followed tag     (bench/tag_fanout.py) the poster asks questions in a tag the 10,000 follow
                   and in one nobody follows, round-robin: median latency of each and their
                   ratio; then one question in the followed tag and an in-process worker on
                   its event: files placed per second (tag_fanout_per_s)
Targets: latency at 10,000 followers within 1.5x of that at 1; fan-out >= 5,000 files/s;
asking in the followed tag within 1.5x of asking in the quiet one; its fan-out >= 5,000 files/s;
all 10,000 at the sink within 10 s of the POST; the reset there within 1 s of its request
(a missed target is printed as MISSED; the exit code is non-zero only when a part failed).
With --json, ends with one JSON line holding latency_ratio_10k, fanout_per_s,
tag_latency_ratio, tag_fanout_per_s, end_to_end_10k_s and reset_during_fanout_s (null when
that part did not run).

Run:  .venv/bin/python bench/post_latency.py [-n 30] [--warmup 3] [--dir /dev/shm]
          [--fanout-rounds 2] [--no-end-to-end] [--profile] [--json] [--reply-address ADDRESS]
The work folder is DIR/bench-post-XXXX (default DIR ./var), removed at the end; smtp-sink's
dumps go to a folder on /dev/shm when there is one. The root fs here is ext4 without a journal
(file creation slows after thousands of files): the fan-out figure depends on it, so the
filesystem is printed; compare with --dir /dev/shm.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: tests.ports

from flask_migrate import upgrade  # noqa: E402
from machine import filesystem_of  # noqa: E402 - bench/ is on sys.path
from mta_runs import RELAY, SMTP_SINK, stop  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402
from tag_fanout import Asker, measure_asking, measure_tag_fanout, seed_tags  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from settings import load_config  # noqa: E402
from tests.ports import free_port  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.accounts.models import User  # noqa: E402
from webapp.mail.fanout import FanoutWorker  # noqa: E402
from webapp.mail.models import OutboxEvent  # noqa: E402
from webapp.posts.models import Question, Subscription  # noqa: E402
from webapp.site.config import site_config  # noqa: E402
from webapp.site.database import utcnow  # noqa: E402
from webapp.site.extensions import db  # noqa: E402

FOLLOWERS = (1, 100, 1_000, 10_000)
FLASK = Path(sys.executable).with_name("flask")
PASSWORD = "bench-password-1234"
POSTER, RESETTER = "poster@example.org", "reset-me@example.org"
ANSWER = "Use `for line in f:` on the open file; it reads **one line at a time**."
GIVE_UP = 120.0          # seconds the end-to-end run may take before the bench gives up
TARGETS = {"latency_ratio_10k": 1.5, "fanout_per_s": 5_000, "tag_latency_ratio": 1.5,
           "tag_fanout_per_s": 5_000, "end_to_end_10k_s": 10.0, "reset_during_fanout_s": 1.0}
HIGHER_IS_BETTER = ("fanout_per_s", "tag_fanout_per_s")


class BenchError(Exception):
    pass


def write_config(work: Path, smtp_port: int, reply_address: str = "") -> Path:
    path = work / "config.toml"
    path.write_text(
        '[pickup]\ndir = "pickup"\n\n[relay]\nqueue_dir = "queue"\nlog_level = "warning"\n\n'
        f'[relay.smarthost]\nhost = "127.0.0.1"\nport = {smtp_port}\n\n'
        '[webapp]\ndatabase_url = "sqlite:///site.db"\nbase_url = "http://qa.example.test"\n'
        'secret_key_file = "secret_key"\nposts_per_minute = 1000\n'
        f'max_notifications_per_day = 1000\nreply_address = "{reply_address}"\n')
    (work / "pickup").mkdir()
    return path


def seed(followers: tuple[int, ...]) -> dict[int, int]:
    """Members, the questions and their followers, in bulk; returns {followers: question id}."""
    most = max(followers)
    now = utcnow()
    members = [{"id": i, "email": f"m{i}@example.org", "display_name": f"Member {i}",
                "password_hash": "x", "activated_at": now, "notify_mode": "instant"}
               for i in range(1, most + 1)]
    hashed = generate_password_hash(PASSWORD)
    for i, address in ((most + 1, POSTER), (most + 2, RESETTER)):  # these two follow nothing
        members.append({"id": i, "email": address, "display_name": address.split("@")[0],
                        "password_hash": hashed, "activated_at": now, "notify_mode": "instant"})
    db.session.execute(insert(User).values(follow_on_reply=False), members)
    questions = {}
    for qid, count in enumerate(followers, start=1):
        body = f"How do I read a file line by line? (followed by {count:,})"
        db.session.execute(insert(Question), [{"id": qid, "author_id": 1, "title": body,
                                               "body_source": body, "body_html": f"<p>{body}</p>"}])
        db.session.execute(insert(Subscription), [{"user_id": i, "kind": "question", "target_id": qid}
                                                  for i in range(1, count + 1)])
        questions[count] = qid
    db.session.commit()
    return questions


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)
    return re.search(r'value="([^"]+)"', field).group(1)


def logged_in(app):
    client = app.test_client()
    response = client.post("/account/login", data={"csrf_token": csrf_token(client, "/account/login"),
                                                   "email": POSTER, "password": PASSWORD})
    if response.status_code != 302:
        raise BenchError(f"the poster could not log in: {response.status_code}")
    return client


class Poster:
    """The logged-in poster; post() is the timed POST of one answer form."""

    def __init__(self, app):
        self.client = logged_in(app)
        self.tokens: dict[int, str] = {}

    def post(self, question_id: int) -> float:
        path = f"/questions/{question_id}"
        if question_id not in self.tokens:   # one per session: read from the page once, untimed
            self.tokens[question_id] = csrf_token(self.client, path)
        data = {"csrf_token": self.tokens[question_id], "body": ANSWER}
        start = time.perf_counter()
        response = self.client.post(f"{path}/answers", data=data)
        elapsed = time.perf_counter() - start
        if response.status_code != 302:
            raise BenchError(f"posting an answer answered {response.status_code}")
        return elapsed


def measure_posting(poster: Poster, questions: dict[int, int], n: int, warmup: int) -> dict:
    """Round-robin over the follower counts, so drift on a shared machine hits each alike; the
    order turns by one each round, so nothing periodic (a GC pass, a WAL checkpoint) keeps
    landing on the same count."""
    times: dict[int, list[float]] = {count: [] for count in questions}
    order = list(questions.items())
    for round_ in range(warmup + n):
        turn = round_ % len(order)
        for count, qid in order[turn:] + order[:turn]:
            elapsed = poster.post(qid)
            if round_ >= warmup:
                times[count].append(elapsed)
    return {count: (statistics.median(t) * 1e3, statistics.quantiles(t, n=20)[-1] * 1e3)
            for count, t in times.items()}


def close_events() -> None:
    db.session.execute(update(OutboxEvent).where(OutboxEvent.done_at.is_(None)).values(done_at=utcnow()))
    db.session.commit()


def notification_files(pickup: Path) -> list[Path]:
    return [p for p in pickup.iterdir() if p.name.startswith("n") and p.name.endswith(".eml")]


def measure_fanout(app, poster: Poster, qid: int, rounds: int, profile: bool) -> list[dict]:
    """Per round: one answer, then one in-process worker on its event; the files of the round
    before are removed first. Returns files, seconds, files/s and this process's CPU per file."""
    pickup = site_config(app).pickup.dir
    results = []
    for round_ in range(rounds):
        with app.app_context():
            close_events()
        for path in notification_files(pickup):
            path.unlink()
        poster.post(qid)
        profiler = cProfile.Profile() if profile and round_ == rounds - 1 else None
        with app.app_context():
            worker = FanoutWorker()
            try:
                start, cpu = time.perf_counter(), time.process_time()
                if profiler:
                    profiler.enable()
                finished = worker.run(lambda: False, once=True)
                if profiler:
                    profiler.disable()
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            finally:
                worker.close()
        files = len(notification_files(pickup))
        if finished != 1:
            raise BenchError(f"the worker finished {finished} events, not 1")
        results.append({"files": files, "seconds": seconds, "per_s": files / seconds,
                        "cpu_us_per_file": cpu / files * 1e6})
        if profiler:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    return results


def filesystem_ceiling(pickup: Path) -> float:
    """Files/s of plain write + rename (no fsync) of the fan-out's files, one by one, in the
    same pickup folder (theirs removed first): what this folder allows without any of our work."""
    samples = [p.read_bytes() for p in notification_files(pickup)]
    for path in notification_files(pickup):
        path.unlink()
    made = []
    try:
        start = time.perf_counter()
        for i, data in enumerate(samples):
            tmp, name = f"{pickup}/.ceiling-{i}.tmp", f"{pickup}/ceiling-{i}.eml"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.rename(tmp, name)
            made.append(name)
        return len(samples) / (time.perf_counter() - start)
    finally:
        for name in made:
            os.unlink(name)


class SmtpSink:
    """smtp-sink -c -d: a live message count read from stdout by a thread, and one dump file a message."""

    def __init__(self, port: int, dump: Path, log: Path):
        dump.chmod(0o777)   # as root it runs as nobody (-u), who writes the dumps
        cmd = [SMTP_SINK, "-c", *(["-u", "nobody"] if os.geteuid() == 0 else []),
               "-d", f"{dump}/%H%M%S.", f"127.0.0.1:{port}", "1000"]
        self.dump, self.count, self.cond = dump, 0, threading.Condition()
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:   # "sess=1 quit=0 mesg=42\r" after each "."
        rest = b""
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            *records, rest = (rest + chunk).split(b"\r")
            found = [int(m[1]) for r in records if (m := re.search(rb"mesg=(\d+)", r))]
            if found:
                with self.cond:
                    self.count = max(self.count, *found)
                    self.cond.notify_all()

    def wait_for(self, target: int, timeout: float, *alive) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.count < target:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None or any(p.poll() is not None for p in alive):
                    return False
                self.cond.wait(timeout=min(0.5, left))
        return True

    def arrivals(self) -> list[tuple[float, list[str]]]:
        """(arrival time, recipients) of every dumped message."""
        found = []
        for path in self.dump.iterdir():
            with open(path, "rb") as f:
                head = f.read(4096)
            rcpts = [m.decode() for m in re.findall(rb"^X-Rcpt-Args: <?([^>\s]+)>?", head, re.MULTILINE)]
            found.append((path.stat().st_mtime, rcpts))
        return found


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.05)


def measure_end_to_end(app, poster: Poster, qid: int, followers: int, config_path: Path,
                       port: int, dump_parent: Path) -> dict:
    pickup = site_config(app).pickup.dir
    with app.app_context():
        close_events()
    for path in notification_files(pickup):   # the fan-out's files: this run starts empty
        path.unlink()
    work = config_path.parent
    dump = Path(tempfile.mkdtemp(prefix="bench-post-sink-", dir=dump_parent))
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(config_path)}
    sink = relay = worker = None
    try:
        sink = SmtpSink(port, dump, work / "sink.log")
        with open(work / "relay.log", "wb") as log:
            relay = subprocess.Popen([str(RELAY), "--config", str(config_path), "run"], env=env,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        with open(work / "worker.log", "wb") as log:
            worker = subprocess.Popen([str(FLASK), "--app", "webapp", "outbox-worker"], env=env, cwd=work,
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        # Ready: a reset mail went through relay and sink, and the worker holds its pickup lock.
        resetter = app.test_client()
        reset_token = csrf_token(resetter, "/account/reset")
        if resetter.post("/account/reset", data={"csrf_token": reset_token,
                                                 "email": "m1@example.org"}).status_code != 200:
            raise BenchError("the probe's reset request failed")
        if not sink.wait_for(1, 30, relay):
            raise BenchError(f"the relay did not deliver a probe within 30s: {tail(work / 'relay.log')}")
        wait_until(lambda: any(pickup.glob(".placer-*.lock")) or worker.poll() is not None, 30,
                   "the outbox worker starting")
        if worker.poll() is not None:
            raise BenchError(f"the outbox worker exited: {tail(work / 'worker.log')}")
        reset_token = csrf_token(resetter, "/account/reset")
        time.sleep(0.5)

        posted_at = time.time()
        poster.post(qid)
        time.sleep(max(0.0, posted_at + 1.0 - time.time()))
        reset_at = time.time()
        if resetter.post("/account/reset", data={"csrf_token": reset_token,
                                                 "email": RESETTER}).status_code != 200:
            raise BenchError("the reset request failed")
        if not sink.wait_for(1 + followers + 1, GIVE_UP, relay, worker):
            raise BenchError(f"the sink has {sink.count - 1:,} of {followers + 1:,} messages "
                             f"after {time.time() - posted_at:.0f}s: relay {tail(work / 'relay.log')} "
                             f"worker {tail(work / 'worker.log')}")
    finally:
        for proc in (worker, relay):
            stop(proc)
        if sink is not None:
            stop(sink.proc, grace=5)
    try:
        arrivals = sink.arrivals()
    finally:
        shutil.rmtree(dump, ignore_errors=True)
    notified = sorted(t for t, rcpts in arrivals if any(re.fullmatch(r"m\d+@example\.org", r) for r in rcpts)
                      and t >= posted_at)
    reset = [t for t, rcpts in arrivals if RESETTER in rcpts]
    if len(notified) != followers or len(reset) != 1:
        raise BenchError(f"the sink holds {len(notified):,} notifications and {len(reset)} resets")
    return {"end_to_end_10k_s": notified[-1] - posted_at, "first_s": notified[0] - posted_at,
            "reset_during_fanout_s": reset[0] - reset_at,
            "notified_before_reset": sum(t <= reset[0] for t in notified)}


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-1500:] if path.exists() else "(no log)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="timed posts per follower count (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed posts per follower count first")
    parser.add_argument("--dir", help="parent of the work folder (default ./var; e.g. /dev/shm)")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the relay + smtp-sink part")
    parser.add_argument("--fanout-rounds", type=int, default=2,
                        help="fan-out runs, the last one is the figure (default 2: one warm-up)")
    parser.add_argument("--profile", action="store_true", help="cProfile the last fan-out (to stderr)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    parser.add_argument("--reply-address", default="", metavar="ADDRESS",
                        help="[webapp] reply_address, e.g. reply@qa.example.test: each notification "
                             "stamped with its member's Reply-To (default: none)")
    args = parser.parse_args()
    if not 2 <= args.n <= 200 or not 0 <= args.warmup <= 20 or not 1 <= args.fanout_rounds <= 5:
        parser.error("-n must be 2..200, --warmup 0..20 (posts_per_minute is 1000), --fanout-rounds 1..5")
    end_to_end = not args.no_end_to_end
    if end_to_end and not os.access(SMTP_SINK, os.X_OK):
        parser.error(f"no {SMTP_SINK} (apt-get install postfix, 'No configuration'), or --no-end-to-end")
    parent = Path(os.path.abspath(args.dir or "var"))
    parent.mkdir(parents=True, exist_ok=True)
    dump_parent = Path("/dev/shm") if Path("/dev/shm").is_dir() else parent
    work = Path(tempfile.mkdtemp(prefix="bench-post-", dir=parent))
    figures = dict.fromkeys(TARGETS)
    load_before = os.getloadavg()
    try:
        port = free_port()
        config_path = write_config(work, port, args.reply_address)
        app = create_app(load_config(config_path))
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            questions = seed(FOLLOWERS)
            seed_tags(max(FOLLOWERS))
            print(f"seeded {max(FOLLOWERS):,} members and {sum(FOLLOWERS):,} subscriptions "
                  f"in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        poster = Poster(app)
        latency = measure_posting(poster, questions, args.n, args.warmup)
        figures["latency_ratio_10k"] = latency[max(FOLLOWERS)][0] / latency[1][0]
        fanout = measure_fanout(app, poster, questions[max(FOLLOWERS)], args.fanout_rounds, args.profile)
        figures["fanout_per_s"] = fanout[-1]["per_s"]
        asker = Asker(poster.client, csrf_token)
        asking = measure_asking(asker, args.n, args.warmup)
        figures["tag_latency_ratio"] = asking["followed"] / asking["quiet"]
        tag_fanout = measure_tag_fanout(app, asker, args.fanout_rounds, close_events, notification_files)
        figures["tag_fanout_per_s"] = tag_fanout[-1]["per_s"]
        ceiling = filesystem_ceiling(site_config(app).pickup.dir)
        e2e = None
        if end_to_end:
            e2e = measure_end_to_end(app, poster, questions[max(FOLLOWERS)], max(FOLLOWERS),
                                     config_path, port, dump_parent)
            figures["end_to_end_10k_s"] = e2e["end_to_end_10k_s"]
            figures["reset_during_fanout_s"] = e2e["reset_during_fanout_s"]
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"work folder: {filesystem_of(str(parent))}; smtp-sink dumps: {filesystem_of(str(dump_parent))}; "
          f"CPUs = {os.cpu_count()}; SQLite; load average {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (a shared machine: compare ratios within a run)")
    print(f"posting an answer through the WSGI app (Flask test client, logged in, CSRF), "
          f"N = {args.n} per count after {args.warmup} warm-up, round-robin")
    print(f"{'followers':>10} {'median ms':>10} {'p95 ms':>8} {'median/1':>9} {'p95/1':>7}")
    for count in FOLLOWERS:
        median, p95 = latency[count]
        print(f"{count:>10,} {median:>10.2f} {p95:>8.2f} {median / latency[1][0]:>8.2f}x "
              f"{p95 / latency[1][1]:>6.2f}x")
    print("fan-out of one event to 10,000 followers (one in-process FanoutWorker, no relay running):")
    for i, r in enumerate(fanout, start=1):
        print(f"  round {i}: {r['files']:,} files in {r['seconds']:.2f}s = {r['per_s']:,.0f} files/s, "
              f"{r['cpu_us_per_file']:.0f} µs of this process's CPU a file"
              + (" (the figure)" if i == len(fanout) else " (warm-up)"))
    print(f"  one file per {fanout[-1]['cpu_us_per_file']:.0f} µs of CPU is "
          f"{1e6 / fanout[-1]['cpu_us_per_file']:,.0f} files/s on a CPU of its own")
    print(f"  the folder alone (write + rename, no fsync, same files, same folder): {ceiling:,.0f} files/s; "
          f"fan-out / that = {figures['fanout_per_s'] / ceiling:.2f}")
    print(f"asking a question (same client): in a tag nobody follows {asking['quiet']:.2f} ms, in a tag "
          f"{max(FOLLOWERS):,} follow {asking['followed']:.2f} ms (median), ratio "
          f"{figures['tag_latency_ratio']:.2f}x")
    print(f"fan-out of a new question to the tag's {max(FOLLOWERS):,} followers:")
    for i, r in enumerate(tag_fanout, start=1):
        print(f"  round {i}: {r['files']:,} files in {r['seconds']:.2f}s = {r['per_s']:,.0f} files/s"
              + (" (the figure)" if i == len(tag_fanout) else " (warm-up)"))
    if e2e:
        print(f"end to end (smtp-sink, relay run, outbox-worker): first notification at the sink "
              f"{e2e['first_s']:.2f}s, all {max(FOLLOWERS):,} at {e2e['end_to_end_10k_s']:.2f}s after "
              f"the POST; the reset requested 1 s after it reached the sink in "
              f"{e2e['reset_during_fanout_s'] * 1e3:.0f} ms ({e2e['notified_before_reset']:,} "
              f"notifications were there before it)")
    missed = []
    print(f"{'figure':<24} {'measured':>10} {'target':>10}")
    for key, target in TARGETS.items():
        value = figures[key]
        better_low = key not in HIGHER_IS_BETTER
        if value is None:
            print(f"{key:<24} {'-':>10} {target:>10,}")
            continue
        ok = value <= target if better_low else value >= target
        missed += [] if ok else [key]
        print(f"{key:<24} {value:>10,.2f} {('<= ' if better_low else '>= ') + f'{target:,}':>10}"
              f"  {'ok' if ok else 'MISSED'}")
    if args.json:
        print(json.dumps({**{k: None if v is None else round(v, 3) for k, v in figures.items()},
                          "latency_ms": {str(c): {"median": round(m, 3), "p95": round(p, 3)}
                                         for c, (m, p) in latency.items()},
                          "fanout_rounds": [{k: round(v, 3) for k, v in r.items()} for r in fanout],
                          "asking_ms": {k: round(v, 3) for k, v in asking.items()},
                          "filesystem_ceiling_per_s": round(ceiling),
                          "fanout_cpu_bound_per_s": round(1e6 / fanout[-1]["cpu_us_per_file"]),
                          "n": args.n, "targets": TARGETS,
                          "missed": missed}))


if __name__ == "__main__":
    main()
