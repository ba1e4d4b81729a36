"""A newsletter survives SIGKILL of every fan-out worker: 5,000 members, two `outbox-worker`
processes killed at a random moment (seeded) three times over, once just after a batch's commit
while its files are being renamed into pickup, then one worker finishes it; each member has
exactly one file, with nothing staged or locked left behind."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import insert

from settings import load_config
from tests.configs import SITE, config_file
from webapp import create_app
from webapp.accounts.models import User
from webapp.mail import newsletter
from webapp.mail.models import Newsletter
from webapp.site.database import utcnow
from webapp.site.extensions import db

MEMBERS = 5_000
KILLS = 3
BATCH = 100
WORKER = [sys.executable, "-m", "flask", "--app", "webapp", "outbox-worker", "--lease", "2"]


def newsletter_files(pickup: Path) -> list[Path]:
    return list(pickup.glob("n*.bulk.eml"))


def receivers(path: Path) -> list[str]:
    """The X-Receiver lines at the top of a pickup file (the envelope)."""
    found = []
    for line in path.read_bytes().split(b"\n"):
        if not line.startswith(b"X-"):
            break
        if line.startswith(b"X-Receiver:"):
            found.append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
    return found


def start_workers(env: dict, cwd: Path, log: Path, count: int, batch: int) -> list[subprocess.Popen]:
    with open(log, "ab") as out:
        return [subprocess.Popen([*WORKER, "--batch", str(batch)], cwd=cwd, env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
                for _ in range(count)]


def wait_for_files(pickup: Path, more_than: int, workers: list[subprocess.Popen], log: Path,
                   timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while (count := len(newsletter_files(pickup))) <= more_than:
        assert time.monotonic() < deadline, f"no new files within {timeout}s:\n{log.read_text()[-2000:]}"
        assert any(w.poll() is None for w in workers), f"the workers exited:\n{log.read_text()[-2000:]}"
        time.sleep(0.02)
    return count


def wait_mid_publish(pickup: Path, seen: int, workers: list[subprocess.Popen], log: Path,
                     timeout: float = 30.0) -> None:
    """Return as soon as new files are there and their count is off a batch boundary (a committed
    batch being renamed into place)."""
    deadline = time.monotonic() + timeout
    while (count := sum(name.endswith(".bulk.eml") for name in os.listdir(pickup))) <= seen \
            or count % BATCH == 0:
        assert time.monotonic() < deadline, f"no batch seen mid-rename:\n{log.read_text()[-2000:]}"
        assert any(w.poll() is None for w in workers), f"the workers exited:\n{log.read_text()[-2000:]}"


def kill_all(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGKILL)
    for w in workers:
        w.wait(timeout=10)


def test_a_broadcast_killed_mid_way_and_resumed_writes_each_member_exactly_once(tmp_path):
    config_path = config_file(tmp_path, SITE)
    pickup = tmp_path / "pickup"
    app = create_app(load_config(config_path), {"TESTING": True})
    with app.app_context():
        upgrade()
        now = utcnow()
        db.session.execute(insert(User), [
            {"email": f"m{n}@example.org", "display_name": f"Member {n}", "password_hash": "x",
             "activated_at": now, "newsletter": True} for n in range(MEMBERS)])
        admin = User(email="ada@example.org", display_name="Ada", password_hash="x", is_admin=True,
                     activated_at=now, newsletter=False)
        db.session.add(admin)
        db.session.flush()
        newsletter_id = newsletter.start(admin, "Crash news", "Hello all, this one survives a crash.").id
        db.session.commit()
        db.engine.dispose()

    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(config_path)}
    log = tmp_path / "workers.log"
    rng = random.Random(13)
    workers: list[subprocess.Popen] = []
    try:
        seen = 0
        for kill in range(KILLS):
            # The middle kill aims just after a commit, while that batch's files are being renamed
            # into pickup (bigger batches make that window wider); the kill may miss it: try again.
            mid_publish = kill == 1
            for _attempt in range(3 if mid_publish else 1):
                workers = start_workers(env, tmp_path, log, 2, 1000 if mid_publish else BATCH)
                if mid_publish:
                    wait_mid_publish(pickup, seen, workers, log)
                else:   # a random point of the progress, then of a batch: counted, not timed
                    wait_for_files(pickup, seen + rng.randrange(0, 600), workers, log)
                    time.sleep(rng.uniform(0.0, 0.1))
                kill_all(workers)
                seen = len(newsletter_files(pickup))
                assert 0 < seen < MEMBERS, f"{seen} files: the kill did not land mid-way"
                if not mid_publish or seen % BATCH:   # off a batch boundary: committed files staged
                    break
            else:
                raise AssertionError("three kills missed the moment between a commit and its renames")
        for _ in range(5):                            # one worker, to the end, as often as it takes
            finisher = subprocess.run([*WORKER, "--batch", str(BATCH), "--once"], cwd=tmp_path,
                                      env=env, capture_output=True, timeout=60)
            assert finisher.returncode == 0, finisher.stderr.decode()[-2000:]
            with app.app_context():
                figures = newsletter.progress(db.session.get(Newsletter, newsletter_id))
            if figures["state"] == "done":
                break
    finally:
        kill_all(workers)
        with app.app_context():
            db.engine.dispose()

    files = newsletter_files(pickup)
    addresses = [r for path in files for r in receivers(path)]
    assert len(files) == MEMBERS and len(addresses) == MEMBERS
    assert set(addresses) == {f"m{n}@example.org" for n in range(MEMBERS)}
    leftovers = [p.name for p in pickup.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "staged files or placer locks left behind"
    assert figures["state"] == "done" and figures["written"] == MEMBERS and figures["left_out"] == 1
