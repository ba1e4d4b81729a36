"""A newsletter to 50,000 members, from the admin's click to the smart host, and a password
reset sent in the middle of it.

Set-up (untimed), in a fresh DIR/bench-broadcast-XXXX (pickup, queue and the SQLite database
on one filesystem, printed): the site's migrations, 50,000 activated members with the
newsletter on (one Core executemany), an admin and a "probe" member with it off; Postfix's
`smtp-sink` on a free loopback port as the smart host; `relay run` (one relay per CPU under
its supervisor, log_level "warning") and one `flask --app webapp outbox-worker` (a newsletter
is one event, held by one worker at a time: a second worker would only wait). A warm-up
message through pickup shows the relay is up before the clock starts; the worker is up when
its placer lock is in pickup.

Timed, from the admin's POST of /admin/newsletter with action=send (Flask's test client in
this process, logged in, the CSRF token taken from the page):
  page_return_s              that POST's own time (it stores the broadcast and returns)
  files_per_s                members / (the event's done_at - the POST's start): the fan-out
                             rate the admin sees, worker wake-up (poll 0.25 s) included
  total_s                    the POST's start until smtp-sink has every newsletter
  reset_during_broadcast_s   one second after the POST, the probe member asks for a password
                             reset (POST /account/reset, this process): from that request's
                             start until the reset mail's RCPT reaches smtp-sink, while the
                             pickup folder and queue are full of newsletter files
How the reset mail is spotted: smtp-sink -v logs every SMTP command on stderr; a thread reads
it and notes when "RCPT TO:<probe address>" passes (the probe gets nothing else), while -c's
running count on stdout gives the total. A recording aiosmtpd sink would give per-message
times too, but tops out near 1,000 msgs/s (MEASUREMENTS.md), below what the relay does; -d
would write 50,000 dump files on the same disk. The RCPT line precedes its "." by one
message's transfer (well under a millisecond on loopback), noise next to the figure.

Run:  .venv/bin/python bench/broadcast.py [--members 50000] [--dir /dev/shm] [--json]
With --json the last line is one JSON object: members, page_return_s, files_per_s, total_s,
reset_during_broadcast_s, reset_request_s, filesystem, cpus, load_average.
The root fs here is ext4 without a journal (file creation slows after thousands of files);
the machine may be shared: say so beside the figures (load_average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: tests.ports

from flask_migrate import upgrade  # noqa: E402
from machine import filesystem_of  # noqa: E402 - bench/ is on sys.path
from mta_runs import RELAY, SMTP_SINK, message, stop  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from settings import load_config  # noqa: E402
from spooler.pickup import PickupWriter  # noqa: E402
from tests.ports import free_port  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.accounts.models import User  # noqa: E402
from webapp.mail.models import OutboxEvent  # noqa: E402
from webapp.site.extensions import db  # noqa: E402

FLASK = Path(sys.executable).with_name("flask")
ADMIN, PROBE, PASSWORD = "admin@example.org", "reset-probe@example.org", "bench-password-1"
BODY = ("Hello all,\n\nThis month on the site: **faster notifications**, threads in your mail "
        "client, and one-click unsubscribe.\n\nThank you for reading.\n")
GIVE_UP = 900.0


class BenchError(Exception):
    pass


class SmtpSink:
    """smtp-sink -c -v: the running message count (stdout) and when PROBE's RCPT came (stderr)."""

    def __init__(self, work: Path, port: int):
        self.count, self.probe_at, self.cond = 0, None, threading.Condition()
        cmd = [SMTP_SINK, "-c", "-v", *(["-u", "nobody"] if os.geteuid() == 0 else []),
               f"127.0.0.1:{port}", "1000"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=work)
        threading.Thread(target=self._counts, daemon=True).start()
        threading.Thread(target=self._commands, daemon=True).start()

    def _counts(self) -> None:
        rest = b""
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            *records, rest = (rest + chunk).split(b"\r")
            counts = [int(m[1]) for r in records if (m := re.search(rb"mesg=(\d+)", r))]
            if counts:
                with self.cond:
                    self.count = max(self.count, *counts)
                    self.cond.notify_all()

    def _commands(self) -> None:
        needle, tail = f"rcpt to:<{PROBE}>".encode(), b""
        while chunk := os.read(self.proc.stderr.fileno(), 262144).lower():   # RCPT as the client spelled it
            if self.probe_at is None and needle in tail + chunk:
                with self.cond:
                    self.probe_at = time.monotonic()
                    self.cond.notify_all()
            tail = chunk[-len(needle):]

    def wait(self, ready, timeout: float, why) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not ready():
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise BenchError(why())
                self.cond.wait(timeout=0.5)


def write_config(work: Path, port: int) -> Path:
    path = work / "config.toml"
    path.write_text(
        '[pickup]\ndir = "pickup"\n\n[relay]\nqueue_dir = "queue"\nlog_level = "warning"\n\n'
        f'[relay.smarthost]\nhost = "127.0.0.1"\nport = {port}\n\n'
        '[webapp]\ndatabase_url = "sqlite:///site.db"\nbase_url = "https://qa.example.org"\n')
    (work / "pickup").mkdir()
    return path


def fill(members: int) -> None:
    """The members in one executemany; the admin and the probe with the newsletter off."""
    now = datetime.now(UTC).replace(tzinfo=None)
    db.session.execute(insert(User), [
        {"email": f"m{n}@example.org", "display_name": f"Member {n}", "password_hash": "x",
         "activated_at": now, "newsletter": True} for n in range(members)])
    db.session.execute(insert(User), [
        {"email": ADMIN, "display_name": "Admin", "password_hash": generate_password_hash(PASSWORD),
         "activated_at": now, "newsletter": False, "is_admin": True},
        {"email": PROBE, "display_name": "Probe", "password_hash": "x", "activated_at": now,
         "newsletter": False}])
    db.session.commit()


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)
    return re.search(r'value="([^"]+)"', field).group(1)


def started(cmd: list[str], env: dict, log: Path, cwd: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)


def run(members: int, parent: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-broadcast-", dir=parent))
    relay = worker = sink = app = None
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(work / "config.toml")}

    def why() -> str:
        logs = "".join(f"\n--- {p.name}:\n{p.read_text(errors='replace')[-1500:]}"
                       for p in (work / "relay.log", work / "worker.log") if p.exists())
        return (f"sink count {sink.count if sink else '-'}, relay exit {relay and relay.poll()}, "
                f"worker exit {worker and worker.poll()}{logs}")
    try:
        port = free_port()
        config = write_config(work, port)
        app = create_app(load_config(config))
        with app.app_context():
            upgrade()
            began = time.monotonic()
            fill(members)
            print(f"  {members:,} members inserted in {time.monotonic() - began:.1f} s", file=sys.stderr)
            db.session.remove()
        sink = SmtpSink(work, port)
        relay = started([str(RELAY), "run"], env, work / "relay.log", work)
        worker = started([str(FLASK), "--app", "webapp", "outbox-worker"], env, work / "worker.log", work)
        PickupWriter(work / "pickup").write(message(0))    # warm-up: the relay is up and connected
        sink.wait(lambda: sink.count >= 1, 120, lambda: f"the warm-up message did not arrive: {why()}")
        deadline = time.monotonic() + 120
        while not list((work / "pickup").glob(".placer-*.lock")):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise BenchError(f"the outbox worker did not start: {why()}")
            time.sleep(0.05)

        client, visitor = app.test_client(), app.test_client()
        login = client.post("/account/login", data={
            "csrf_token": csrf_token(client, "/account/login"), "email": ADMIN, "password": PASSWORD})
        if login.status_code != 302:
            raise BenchError(f"the admin could not log in ({login.status_code})")
        form = {"csrf_token": csrf_token(client, "/admin/newsletter"), "subject": "News from Q&A",
                "body": BODY, "action": "send", "confirmed": "y"}
        reset_form = {"csrf_token": csrf_token(visitor, "/account/reset"), "email": PROBE}

        wall_start, start = datetime.now(UTC).replace(tzinfo=None), time.monotonic()
        sent = client.post("/admin/newsletter", data=form)
        page_return = time.monotonic() - start
        if sent.status_code != 302:
            raise BenchError(f"the send POST answered {sent.status_code}")
        time.sleep(max(0.0, start + 1.0 - time.monotonic()))
        reset_start = time.monotonic()
        reset = visitor.post("/account/reset", data=reset_form)
        reset_request = time.monotonic() - reset_start
        if reset.status_code != 200:
            raise BenchError(f"the reset POST answered {reset.status_code}")

        sink.wait(lambda: sink.probe_at is not None, GIVE_UP, lambda: f"no reset mail: {why()}")
        reset_latency = sink.probe_at - reset_start
        expected = 1 + members + 1     # warm-up, newsletters, reset
        sink.wait(lambda: sink.count >= expected, GIVE_UP,
                  lambda: f"the sink has {sink.count:,} of {expected:,}: {why()}")
        total = time.monotonic() - start
        with app.app_context():
            event = db.session.execute(db.select(OutboxEvent).where(OutboxEvent.kind == "newsletter")) \
                .scalar_one()
            done_at, written = event.done_at, event.sent
            db.session.remove()
        if done_at is None or written != members:
            raise BenchError(f"the newsletter event: done_at {done_at}, {written:,} written")
        fan_out = (done_at - wall_start).total_seconds()
        return {"members": members, "page_return_s": round(page_return, 4),
                "files_per_s": round(members / fan_out, 1), "fan_out_s": round(fan_out, 2),
                "total_s": round(total, 2), "delivered_per_s": round(members / total, 1),
                "reset_during_broadcast_s": round(reset_latency, 3),
                "reset_request_s": round(reset_request, 4)}
    finally:
        for proc in (worker, relay):
            stop(proc)
        if sink is not None:
            stop(sink.proc, grace=5)
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50_000, help="newsletter members (default 50,000)")
    parser.add_argument("--dir", help="parent of the work folder (default ./var; e.g. /dev/shm)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    if not 1 <= args.members <= 1_000_000:
        parser.error("--members must be 1..1,000,000")
    if not os.access(SMTP_SINK, os.X_OK):
        parser.error(f"no {SMTP_SINK}: apt-get install postfix (debconf answer 'No configuration')")
    parent = Path(os.path.abspath(args.dir or "var"))
    parent.mkdir(parents=True, exist_ok=True)
    where = filesystem_of(str(parent))
    print(f"work folder under {parent}: {where}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at start")
    try:
        r = run(args.members, parent)
    except (BenchError, OSError, subprocess.SubprocessError) as e:
        print(f"FAILED: {e}")
        sys.exit(1)
    load = os.getloadavg()
    r.update(filesystem=where, cpus=os.cpu_count(), load_average=[round(x, 2) for x in load])
    print(f"members                       {r['members']:>10,}")
    print(f"send page returned in         {r['page_return_s'] * 1000:>10.1f} ms")
    print(f"fan-out                       {r['files_per_s']:>10,.0f} files/s ({r['fan_out_s']:.1f} s)")
    print(f"all at the smart host after   {r['total_s']:>10.1f} s ({r['delivered_per_s']:,.0f} msgs/s)")
    print(f"reset mail during it, in      {r['reset_during_broadcast_s'] * 1000:>10.0f} ms "
          f"(its request: {r['reset_request_s'] * 1000:.1f} ms)")
    print(f"load average at the end       {load[0]:>10.2f} (1 min), {load[1]:.2f} (5 min)")
    if args.json:
        print(json.dumps(r))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # finally: stop what was started
    main()
