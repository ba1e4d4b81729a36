"""A real `flask --app webapp inbound-worker` killed by SIGKILL in the middle of a batch, then
a second one run with --once: every drop file is handled exactly once (one record each, no
member's counter moved twice) and the folder is left empty but for badmail."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from settings import load_config
from tests.configs import SITE, config_file
from tests.webapp.inbound import samples
from tests.webapp.inbound.conftest import RETURNING
from webapp.accounts.models import User
from webapp.inbound.drop_folder import BADMAIL, PROCESSING, drop_folder
from webapp.site import return_path
from webapp.site.extensions import db
from webapp.site.return_path import ReturnKind

FILES, MEMBERS = 500, 10
ORIGINAL = samples.crlf(f"From: Q&A <noreply@qa.example.test>\nSubject: New answer\nDate: {samples.DATE}\n"
                        "Message-ID: <n1.1@qa.example.test>\n\nUse a loop.\n")


@pytest.fixture
def config(tmp_path):
    return load_config(config_file(tmp_path, SITE, RETURNING))


def fill(app, folder: Path) -> None:
    """MEMBERS members and FILES temporary bounces, FILES / MEMBERS for each, one bad file."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with app.app_context():
        db.session.execute(insert(User), [
            {"email": f"m{n}@example.org", "display_name": f"M{n}", "password_hash": "x",
             "activated_at": now} for n in range(MEMBERS)])
        db.session.commit()
        members = db.session.execute(db.select(User.id, User.email)).all()
        paths = [return_path.envelope_sender(ReturnKind.NOTIFICATION, 1, id_, email)
                 for id_, email in members]
    for n in range(FILES - 1):
        id_, email = members[n % MEMBERS]
        bounce = samples.postfix(ORIGINAL, email, status="4.2.2", action="delayed",
                                 diagnostic=f"smtp; 452 4.2.2 <{email}>: Mailbox full")
        samples.drop(folder, f"{n:05d}.eml", bounce, paths[n % MEMBERS])
    samples.drop(folder, "99999.eml", b"not a message at all\r\n", paths[0])


def worker(config, *options: str) -> subprocess.Popen:
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(config.base_dir / "config.toml")}
    with open(config.base_dir / "worker.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "webapp", "inbound-worker",
                                 "--batch", "50", *options], env=env, cwd=config.base_dir,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)


def log_of(config) -> str:
    return (config.base_dir / "worker.log").read_text(errors="replace")[-3000:]


def recorded(database: Path) -> int:
    with sqlite3.connect(database, timeout=10) as conn:
        return conn.execute("SELECT count(*) FROM inbound_messages").fetchone()[0]


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(app, config):
    folder = drop_folder(config)
    fill(app, folder)
    database = config.base_dir / "var" / "site.db"
    first = worker(config)
    deadline = time.monotonic() + 60
    while recorded(database) == 0:
        assert first.poll() is None and time.monotonic() < deadline, log_of(config)
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 0 < recorded(database) < FILES, "the kill came in the middle"
    second = worker(config, "--once")
    assert second.wait(timeout=120) == 0, log_of(config)

    assert recorded(database) == FILES
    with app.app_context():
        counted = db.session.execute(db.select(User.soft_bounces).order_by(User.id)).scalars().all()
    assert counted == [len(range(n, FILES - 1, MEMBERS)) for n in range(MEMBERS)]
    left = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    assert sorted(left) == [f"{BADMAIL}/99999.eml", f"{BADMAIL}/99999.eml.reason"]
    assert not [p for p in (folder / PROCESSING).iterdir()]
