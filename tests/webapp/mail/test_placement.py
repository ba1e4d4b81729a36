"""webapp.mail.placement.recover(): a fan-out worker SIGKILLed after its commit has its staged
files published by the next worker; one killed before its commit has them discarded, and
the event's work is redone: one file per member either way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.webapp.conftest import POSTGRES_BINARIES
from tests.webapp.mail.test_outbox_crash import (
    check_exactly_once,
    delivery_rows,
    receivers_in_pickup,
    seed,
    site_config_file,
)

REPO = Path(__file__).parents[3]
MEMBERS, BATCH = 5, 3
# A real worker that SIGKILLs itself at one point of its first batch: "before-commit" (files
# staged and synced, nothing committed) or "before-publish" (committed, nothing renamed).
DYING_WORKER = """
import os, signal, sys
from settings import load_config
from webapp import create_app
from webapp.mail.fanout import FanoutWorker

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

app = create_app(load_config(sys.argv[1]))
with app.app_context():
    worker = FanoutWorker(batch=int(sys.argv[3]))
    if sys.argv[2] == "before-commit":
        worker._commit = die
    else:
        worker.writer.publish = die
    worker.run(lambda: False, once=True)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not POSTGRES_BINARIES, reason="needs PostgreSQL's server binaries"))])
def database_url(request):
    if request.param == "sqlite":
        return "sqlite:///var/site.db"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def site(tmp_path, database_url):
    """(config path, the one event's id, its expected recipients, an app on the config)."""
    from settings import load_config
    from webapp import create_app
    from webapp.site.extensions import db

    config_path = site_config_file(tmp_path, database_url)
    [(event_id, emails)] = seed(config_path, sizes=(MEMBERS,)).items()
    app = create_app(load_config(config_path))
    yield config_path, event_id, emails, app
    with app.app_context():
        db.engine.dispose()


def die_at(config_path: Path, point: str) -> None:
    result = subprocess.run([sys.executable, "-c", DYING_WORKER, str(config_path), point, str(BATCH)],
                            cwd=REPO, capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()


def staged_names(pickup: Path) -> list[str]:
    return sorted(name for name in os.listdir(pickup) if name.endswith(".tmp"))


def recover_then_finish(app) -> tuple[int, int]:
    from webapp.mail import placement
    from webapp.mail.fanout import FanoutWorker
    from webapp.site import config as site_settings

    with app.app_context():
        recovered = placement.recover(site_settings.site_config().pickup.dir)
        worker = FanoutWorker(batch=BATCH)
        try:
            assert worker.run(lambda: False, once=True) == 1   # takes over the dead worker's lease
        finally:
            worker.close()
    return recovered


def test_a_worker_killed_after_its_commit_has_exactly_those_files_published(site):
    config_path, event_id, emails, app = site
    pickup = config_path.parent / "pickup"
    die_at(config_path, "before-publish")
    assert len(staged_names(pickup)) == BATCH and not list(pickup.glob("*.eml"))
    published, discarded = recover_then_finish(app)
    assert (published, discarded) == (BATCH, 0)
    check_exactly_once(config_path, pickup, {event_id: emails}, workers=None)


def test_a_worker_killed_before_its_commit_has_its_files_discarded_and_the_work_redone(site):
    config_path, event_id, emails, app = site
    pickup = config_path.parent / "pickup"
    die_at(config_path, "before-commit")
    assert len(staged_names(pickup)) == BATCH and not list(pickup.glob("*.eml"))
    published, discarded = recover_then_finish(app)
    assert (published, discarded) == (0, BATCH)
    check_exactly_once(config_path, pickup, {event_id: emails}, workers=None)


def test_recovery_publishes_the_committed_batch_before_any_new_work(site):
    from webapp.mail import placement

    config_path, event_id, _emails, app = site
    pickup = config_path.parent / "pickup"
    die_at(config_path, "before-publish")
    with app.app_context():
        assert placement.recover(pickup) == (BATCH, 0)
    placed = {email for (_e, email) in receivers_in_pickup(pickup)}
    rows, _events = delivery_rows(config_path)
    assert placed == {email for (_e, email, status) in rows if status == "sent"}
    assert placed == {f"m{n}@example.org" for n in range(2, 2 + BATCH)}   # the first followers
    assert staged_names(pickup) == []
