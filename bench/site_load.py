"""How many requests a second the site serves under gunicorn, and how fast: home and a question page.

Fills a database (SQLite file, then a throwaway PostgreSQL cluster on 127.0.0.1) with 20,000
members, 1,000 tags and 10,000 questions (bench/site_data.py); question 1 has 20 answers by
different members, with votes and Markdown bodies. Starts gunicorn as the site's unit does
(contrib/gunicorn.conf.py, access log into a file) with 2 and then 4 workers, and loads each
page with wrk (one thread, 8 keep-alive connections, on this machine) for a warm-up and then
--duration seconds, as a visitor; the stylesheet the same way, for the ceiling (no database, no
template). Prints requests/s, p50/p95/p99 latency, the CPU wrk itself used (the generator must
not be the limit) and the CPU the servers (gunicorn and PostgreSQL) spent per request, a figure
that moves less than requests/s when other work shares the machine. Target: the
question page sustains 800 requests/s with p95 under 25 ms on PostgreSQL.
With --json, ends with one JSON line: {"question_rps", "question_p95_ms" (PostgreSQL, the best
worker count), "runs": [{database, workers, page, rps, p50_ms, p95_ms, p99_ms, wrk_cpu, cpu_ms,
socket_errors}]}; 4xx or 5xx answers under load stop it.
Needs wrk (`apt-get install wrk`) and, for PostgreSQL, Debian's server binaries.

Run:  .venv/bin/python bench/site_load.py [--duration 30] [--warmup 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402

from bench.site_data import MEMBERS, TAGS, analyze, fill, fill_members_and_tags, vote_on  # noqa: E402
from settings import parse_config  # noqa: E402
from tests.ports import free_port  # noqa: E402
from tests.webapp.postgres_server import BINARIES, throwaway_postgres  # noqa: E402
from tests.webapp.site.test_gunicorn import ROOT, get, unit_command, wait_for  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.site.extensions import db  # noqa: E402

QUESTIONS, QUESTION_ANSWERS = 10_000, 20
# The stylesheet (no database, no template) is the ceiling of gunicorn and the site's hooks.
PAGES = {"home": "/", "question": "/questions/1", "style.css": "/static/style.css"}
CONNECTIONS = 8
TIMEOUT = 10   # seconds; wrk's default (2 s) counts the slowest answers on a busy machine as errors
# wrk's summary as one JSON line (latencies in microseconds); status errors are 4xx and 5xx.
REPORT = """done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "socket_errors": %d, "status_errors": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d}\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass
class Load:
    database: str
    workers: int
    page: str
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    wrk_cpu: float      # CPU seconds wrk used per second of load: 1.0 is one core
    cpu_ms: float       # CPU the servers (gunicorn's processes, PostgreSQL's) spent per request
    socket_errors: int  # connections refused or reset, answers later than TIMEOUT


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU used so far by a process and its children, the ones alive and the ones it reaped
    (gunicorn replaces a worker after max_requests, PostgreSQL's backends end with their client)."""
    def times(stat: str) -> tuple[int, list[int]]:
        fields = stat.rsplit(")", 1)[1].split()
        return int(fields[1]), [int(x) for x in fields[11:15]]   # ppid; utime stime cutime cstime
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid, ticks = times((entry / "stat").read_text())
            except OSError:
                continue      # ended meanwhile: counted in its parent's cutime
            if ppid == pid or entry.name == str(pid):
                total += sum(ticks)
    return total / TICK


def postmaster_of(url: str) -> int | None:
    """The PostgreSQL server listening on the URL's port, found by its command line."""
    if not url.startswith("postgresql"):
        return None
    port = url.rsplit(":", 1)[1].split("/")[0]
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if words and words[0].endswith(b"/postgres") and f"-p {port}".encode() in b" ".join(words):
            return int(entry.name)
    raise SystemExit(f"site_load: no PostgreSQL server found on port {port}")


def load(url: str, seconds: float, script: Path) -> dict:
    """One wrk run; its summary and the CPU it used (it is this process's only reaped child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", f"--timeout={TIMEOUT}s",
                           "-s", str(script), url],
                          capture_output=True, text=True, check=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    if summary["status_errors"]:
        raise SystemExit(f"{url}: {summary['status_errors']} 4xx/5xx answers under load (gunicorn.log)")
    summary["cpu"] = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / seconds
    return summary


@contextmanager
def gunicorn(config: Path, workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """The site as its unit starts it, with `workers` workers; yields its base URL and pid."""
    port = free_port()
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(config), "GUNICORN_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": str(workers)}
    with open(log, "ab") as out:
        proc = subprocess.Popen(unit_command(), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", proc)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def fill_site(config_path: Path, work: Path, url: str) -> None:
    """The site's migrations and the benchmark's rows, into the database at `url`."""
    (work / "pickup").mkdir(exist_ok=True)
    config_path.write_text(f'[pickup]\ndir = "pickup"\n[webapp]\ndatabase_url = "{url}"\n'
                           'base_url = "https://qa.example.org"\n')
    config = parse_config({"pickup": {"dir": "pickup"}, "webapp": {"database_url": url}},
                          base_dir=work, source=None)
    app = create_app(config)
    rng = random.Random(15)
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            fill_members_and_tags(connection)
            fill(connection, rng, 1, QUESTIONS, 1, big_question_answers=QUESTION_ANSWERS)
            vote_on(connection, rng, 1)
            analyze(connection)
        db.engine.dispose()


def measure(database: str, url: str, work: Path, args, script: Path) -> list[Load]:
    config = work / "config.toml"
    started = time.perf_counter()
    fill_site(config, work, url)
    print(f"{database}: filled {QUESTIONS:,} questions in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    loads = []
    servers = [postmaster_of(url)]
    for workers in args.workers:
        with gunicorn(config, workers, work / "gunicorn.log") as (base, master):
            for page, path in PAGES.items():
                status, body = get(base + path)
                assert status == 200, (path, status)
                if page == "question":
                    assert body.count(b'class="answer post') == QUESTION_ANSWERS, "not the 20 answers"
                load(base + path, args.warmup, script)
                before = sum(cpu_seconds(pid) for pid in [master, *servers] if pid)
                summary = load(base + path, args.duration, script)
                used = sum(cpu_seconds(pid) for pid in [master, *servers] if pid) - before
                rps = summary["requests"] / (summary["duration_us"] / 1e6)
                p50, p95, p99 = (summary[f"p{p}_us"] / 1000 for p in (50, 95, 99))
                loads.append(Load(database, workers, page, rps, p50, p95, p99, summary["cpu"],
                                  used * 1000 / summary["requests"], summary["socket_errors"]))
                print(f"  {database} {workers} workers {page}: {loads[-1].rps:,.0f}/s", file=sys.stderr)
    return loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per page")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of uncounted load first")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"),
                        default=["sqlite", "postgresql"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("site_load: wrk is not installed (apt-get install wrk)")
    if "postgresql" in args.databases and not BINARIES:
        raise SystemExit("site_load: PostgreSQL's server binaries are missing (apt-get install postgresql)")
    Path("var").mkdir(exist_ok=True)
    loads: list[Load] = []
    for database in args.databases:
        work = Path(tempfile.mkdtemp(prefix="bench-load-", dir="var")).resolve()
        try:
            script = work / "report.lua"
            script.write_text(REPORT)
            server = throwaway_postgres() if database == "postgresql" else nullcontext(f"sqlite:///{work}/site.db")
            with server as url:
                loads += measure(database, url, work, args, script)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    print(f"wrk -t1 -c{CONNECTIONS}, {args.duration:g} s a page after {args.warmup:g} s of warm-up; "
          f"{MEMBERS:,} members, {TAGS:,} tags, {QUESTIONS:,} questions; the question has "
          f"{QUESTION_ANSWERS} answers; load average {os.getloadavg()[0]:.1f}")
    print(f"{'database':12}{'workers':>8}  {'page':10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'wrk CPU':>9}{'CPU ms':>8}{'errors':>8}")
    for x in loads:
        print(f"{x.database:12}{x.workers:>8}  {x.page:10}{x.rps:9,.0f}{x.p50_ms:9.2f}{x.p95_ms:9.2f}"
              f"{x.p99_ms:9.2f}{x.wrk_cpu:9.0%}{x.cpu_ms:8.2f}{x.socket_errors:8}")
    questions = [x for x in loads if x.page == "question" and x.database == "postgresql"]
    if questions:
        best = max(questions, key=lambda x: x.rps)
        print(f"question page on PostgreSQL, {best.workers} workers: {best.rps:,.0f} requests/s, p95 "
              f"{best.p95_ms:.1f} ms (target: 800/s, p95 under 25 ms)")
    if args.json:
        best_json = {"question_rps": round(best.rps), "question_p95_ms": round(best.p95_ms, 2),
                     "question_workers": best.workers} if questions else {}
        print(json.dumps({**best_json, "runs": [asdict(x) | {"rps": round(x.rps, 1)} for x in loads]}))


if __name__ == "__main__":
    main()
