"""Bounces coming back: how fast the inbound worker drains a drop folder full of them.

Set-up (untimed), in a fresh DIR/bench-inbound-XXXX (the SQLite database and the drop folder
on one filesystem, printed): the site's migrations, --members activated members (one Core
executemany), and --files drop files as `relay receive` writes them, each a bounce of a
notification to one member (round robin), sent to that member's return path
(bounces+TOKEN@...). By default every bounce is a Postfix RFC 3464 report of a hard failure
(5.1.1: the member is marked bouncing at once); --soft makes them delayed 4.2.2 reports (each
counts towards the soft limit), --mixed rotates the six shapes of tests/webapp/inbound/samples
(Postfix, Gmail, Exchange: RFC 3464; Exim, qmail, Yahoo: read by flufl.bounce).

Timed: one in-process InboundWorker (webapp.inbound.worker, --batch files per commit) run
--rounds times with once=True until the folder is empty, the files written again before each
round (the last round is the figure; the database keeps the earlier rounds' records, so a
round is also the worker finding the names of an earlier round recorded: the file names of
each round differ). Printed: files, seconds, process_per_s (files / seconds) and this
process's CPU per file; --profile prints a cProfile of the last round by own time.
Target: process_per_s >= 2,000 (a miss is printed as MISSED; the exit code is not changed).
With --json the last line is one JSON object: files, members, seconds, process_per_s,
cpu_us_per_file, batch, shapes, filesystem, cpus, load_average.

Run:  .venv/bin/python bench/inbound_process.py [--files 10000] [--members 10000]
          [--batch 200] [--rounds 2] [--soft | --mixed] [--dir /dev/shm] [--profile] [--json]
The work folder is removed at the end. The root fs here is ext4 without a journal (file
creation slows after thousands of files); the filesystem is printed: compare with --dir /dev/shm.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: tests.webapp

from flask_migrate import upgrade  # noqa: E402
from machine import filesystem_of  # noqa: E402 - bench/ is on sys.path
from sqlalchemy import func, insert  # noqa: E402

from settings import load_config  # noqa: E402
from tests.webapp.inbound import samples  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.accounts.models import User  # noqa: E402
from webapp.inbound.drop_folder import drop_folder  # noqa: E402
from webapp.inbound.models import InboundMessage  # noqa: E402
from webapp.inbound.worker import BATCH, InboundWorker  # noqa: E402
from webapp.site import return_path  # noqa: E402
from webapp.site.database import utcnow  # noqa: E402
from webapp.site.extensions import db  # noqa: E402
from webapp.site.return_path import ReturnKind  # noqa: E402

TARGET = 2_000   # files per second
EVENT = 1        # the notification every bounce is about
ORIGINAL = samples.crlf(
    "From: Q&A <noreply@qa.example.test>\nSubject: New answer: How do I read a file?\n"
    f"Date: {samples.DATE}\nMessage-ID: <n1.2@qa.example.test>\nAuto-Submitted: auto-generated\n"
    "Precedence: bulk\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
    "Use `for line in f:` on the open file.\n")
SHAPES = {"postfix": samples.postfix, "gmail": samples.gmail, "exchange": samples.exchange,
          "exim": samples.exim, "qmail": samples.qmail, "yahoo": samples.yahoo}


class BenchError(Exception):
    pass


def write_config(work: Path) -> Path:
    path = work / "config.toml"
    path.write_text(
        '[pickup]\ndir = "pickup"\n\n[relay]\nqueue_dir = "queue"\nlog_level = "warning"\n\n'
        '[webapp]\ndatabase_url = "sqlite:///site.db"\nbase_url = "http://qa.example.test"\n'
        'secret_key_file = "secret_key"\nbounce_address = "bounces@bounce.example.test"\n')
    (work / "pickup").mkdir()
    return path


def seed(members: int) -> list[tuple[str, str]]:
    """The members in one executemany; (address, return path) of each."""
    now = utcnow()
    db.session.execute(insert(User), [
        {"email": f"m{n}@example.org", "display_name": f"Member {n}", "password_hash": "x",
         "activated_at": now} for n in range(members)])
    db.session.commit()
    return [(email, return_path.envelope_sender(ReturnKind.NOTIFICATION, EVENT, id_, email))
            for id_, email in db.session.execute(db.select(User.id, User.email).order_by(User.id))]


def bounce(shape: str, address: str, soft: bool) -> bytes:
    if soft:
        return samples.postfix(ORIGINAL, address, status="4.2.2", action="delayed",
                               diagnostic=f"smtp; 452 4.2.2 <{address}>: Mailbox full")
    return SHAPES[shape](ORIGINAL, address)


def fill(folder: Path, round_: int, files: int, members: list[tuple[str, str]], shapes: list[str],
         soft: bool) -> None:
    """`files` drop files, named for the round, written whole then renamed (samples.drop)."""
    for n in range(files):
        address, sender = members[n % len(members)]
        shape = shapes[n % len(shapes)]
        samples.drop(folder, f"r{round_}-{n:07d}.eml", bounce(shape, address, soft), sender)


def drain(app, batch: int, profiler: cProfile.Profile | None) -> tuple[int, float, float]:
    """One worker until the folder is empty: (files handled, seconds, CPU seconds)."""
    with app.app_context():
        worker = InboundWorker(batch=batch)
        try:
            start, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            handled = worker.run(lambda: False, once=True)
            if profiler:
                profiler.disable()
            return handled, time.perf_counter() - start, time.process_time() - cpu
        finally:
            worker.close()


def run(args, work: Path) -> dict:
    app = create_app(load_config(write_config(work)))
    with app.app_context():
        upgrade()
        members = seed(args.members)
        folder = drop_folder(load_config(work / "config.toml"))
    shapes = list(SHAPES) if args.mixed else ["postfix"]
    results = []
    for round_ in range(args.rounds):
        began = time.monotonic()
        fill(folder, round_, args.files, members, shapes, args.soft)
        print(f"  round {round_ + 1}: {args.files:,} drop files written in "
              f"{time.monotonic() - began:.1f} s", file=sys.stderr)
        last = round_ == args.rounds - 1
        profiler = cProfile.Profile() if args.profile and last else None
        handled, seconds, cpu = drain(app, args.batch, profiler)
        if handled != args.files:
            raise BenchError(f"round {round_ + 1}: the worker handled {handled} of {args.files} files")
        left = [p.name for p in folder.iterdir() if p.is_file()]
        if left:
            raise BenchError(f"files left in the drop folder: {left[:5]}")
        results.append({"seconds": seconds, "per_s": handled / seconds,
                        "cpu_us_per_file": cpu / handled * 1e6})
        print(f"  round {round_ + 1}: {handled:,} files in {seconds:.2f} s = "
              f"{handled / seconds:,.0f} files/s ({cpu / handled * 1e6:.0f} us CPU per file)",
              file=sys.stderr)
        if profiler:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats(args.sort).print_stats(30)
    with app.app_context():
        recorded = db.session.execute(
            db.select(InboundMessage.handled, func.count()).group_by(InboundMessage.handled)).all()
        marked = db.session.execute(
            db.select(func.count()).select_from(User).where(User.bouncing_at.is_not(None))).scalar()
        db.engine.dispose()
    print(f"  records: {dict(recorded)}; members marked bouncing: {marked:,}", file=sys.stderr)
    if any(handled != "bounce" for handled, _count in recorded):
        raise BenchError(f"not every file was taken as a bounce: {dict(recorded)}")
    figure = results[-1]
    return {"files": args.files, "members": args.members, "seconds": round(figure["seconds"], 3),
            "process_per_s": round(figure["per_s"], 1),
            "cpu_us_per_file": round(figure["cpu_us_per_file"], 1), "batch": args.batch,
            "shapes": "soft postfix" if args.soft else "+".join(shapes),
            "filesystem": filesystem_of(str(work)), "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="drop files per round")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=BATCH, help="files per commit")
    parser.add_argument("--rounds", type=int, default=2, help="the last round is the figure")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--soft", action="store_true", help="delayed 4.2.2 reports, not hard failures")
    kind.add_argument("--mixed", action="store_true", help="the six servers' shapes in turn")
    parser.add_argument("--dir", default="var", help="where the work folder is made")
    parser.add_argument("--profile", action="store_true", help="cProfile of the last round")
    parser.add_argument("--sort", default="tottime", help="the profile's order (cumulative...)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    parent = Path(args.dir)
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-inbound-", dir=parent))
    print(f"work folder {work} ({filesystem_of(str(work))})", file=sys.stderr)
    try:
        figures = run(args, work)
    except BenchError as e:
        print(f"bench failed: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdict = "met" if figures["process_per_s"] >= TARGET else "MISSED"
    print(f"process_per_s {figures['process_per_s']:,.0f} files/s (target >= {TARGET:,}: {verdict}); "
          f"{figures['cpu_us_per_file']:.0f} us CPU per file; {figures['filesystem']}, "
          f"{figures['cpus']} CPUs, load {figures['load_average']}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
