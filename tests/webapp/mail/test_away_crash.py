"""Mail when away under SIGKILL: a worker killed while mailing what waited, after its commit
or before it, leaves exactly one mail per waiting member once the next worker has recovered,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.configs import SITE, config_file
from tests.webapp.mail import test_placement
from tests.webapp.mail.test_outbox_crash import delivery_rows, receivers_in_pickup, seed
from tests.webapp.mail.test_placement import REPO, staged_names

database_url = test_placement.database_url   # the fixture: SQLite, and PostgreSQL when there is one

MEMBERS = 5
DYING_WORKER = """
import os, signal, sys
from datetime import timedelta
from settings import load_config
from webapp import create_app
from webapp.mail import away
from webapp.mail.fanout import FanoutWorker
from webapp.site.database import utcnow

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

app = create_app(load_config(sys.argv[1]))
with app.app_context():
    worker = FanoutWorker()
    if sys.argv[2] == "before-commit":
        away._settle = die
    else:
        worker.writer.publish = die
    worker.send_away(now=utcnow() + timedelta(minutes=11))
"""


def waiting_site(tmp_path: Path, database_url: str):
    """Members who wait (mail_when_away 10 min), an answer's event fanned out: all "waiting"."""
    from settings import load_config
    from webapp import create_app
    from webapp.mail.fanout import FanoutWorker

    config_path = config_file(tmp_path, SITE, webapp={
        "database_url": database_url, "notification_delay": "0s", "mail_when_away": "10m"})
    [(event_id, emails)] = seed(config_path, sizes=(MEMBERS,)).items()
    app = create_app(load_config(config_path))
    with app.app_context():
        worker = FanoutWorker()
        try:
            assert worker.run(lambda: False, once=True) == 1
        finally:
            worker.close()
    rows, _events = delivery_rows(config_path)
    assert {status for (_e, _m, status) in rows} == {"waiting"}
    return config_path, event_id, emails, app


@pytest.mark.parametrize("point", ["before-commit", "before-publish"])
def test_a_worker_killed_while_mailing_what_waited_leaves_one_mail_each(tmp_path, database_url, point):
    from webapp.mail import placement
    from webapp.mail.fanout import FanoutWorker
    from webapp.site.database import utcnow
    from webapp.site.extensions import db

    config_path, event_id, emails, app = waiting_site(tmp_path, database_url)
    pickup = tmp_path / "pickup"
    result = subprocess.run([sys.executable, "-c", DYING_WORKER, str(config_path), point],
                            cwd=REPO, capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()
    assert len(staged_names(pickup)) == MEMBERS and not list(pickup.glob("n*.eml"))
    with app.app_context():
        published, discarded = placement.recover(pickup)
        assert (published, discarded) == ((MEMBERS, 0) if point == "before-publish" else (0, MEMBERS))
        worker = FanoutWorker()
        try:
            worker.send_away(now=utcnow() + timedelta(minutes=11))
        finally:
            worker.close()
        db.engine.dispose()
    found = receivers_in_pickup(pickup)
    assert set(found.values()) == {1} and {email for (_e, email) in found} == emails
    rows, _events = delivery_rows(config_path)
    assert {(email, status) for (_e, email, status) in rows} == {(email, "sent") for email in emails}
    assert staged_names(pickup) == []
