"""A recipient the smart host refuses for good becomes a bouncing member on the site: the relay
writes its feedback line, the outbox worker reads it, and the member gets no more notifications
and sees the banner. Real relay, real aiosmtpd smart host on loopback, real SQLite."""

from __future__ import annotations

import pytest

from tests.configs import SITE, build_config
from tests.ports import free_port
from tests.relay.relay_helpers import RunningRelay, wait_until
from tests.smtp_servers import Faults, FaultyServer
from tests.webapp.conftest import site_app
from tests.webapp.qa_helpers import answer, ask, member
from webapp.accounts.models import User
from webapp.mail.fanout import FanoutWorker
from webapp.mail.models import OutboxDelivery
from webapp.site.extensions import db


@pytest.fixture
def chain(tmp_path):
    port = free_port()
    config = build_config(tmp_path, SITE, relay={
        "retry_schedule": ["1s"], "feedback_file": "var/feedback.jsonl",
        "smarthost": {"port": port, "timeout": "2s"}})
    (tmp_path / "var").mkdir(exist_ok=True)
    with site_app(config) as app:
        yield app, config, port


def work_outbox(app) -> None:
    """One round of the outbox worker: the feedback file, then any due event."""
    with app.app_context():
        worker = FanoutWorker()
        try:
            worker.run(lambda: False, once=True)
        finally:
            worker.close()


def test_a_550_for_a_member_marks_them_bouncing_and_stops_their_notifications(chain):
    app, config, port = chain
    ann, bob, cat = (member(app, config, name) for name in ("Ann", "Bob", "Cat"))
    for leftover in config.pickup.dir.glob("*.eml"):   # the activation mails: not this test's subject
        leftover.unlink()
    faults = Faults(rcpt_replies={"ann@example.org": "550 5.1.1 <ann@example.org>: no such user"})
    with FaultyServer(faults, port=port) as smarthost, RunningRelay(config):
        question_id = ask(ann)
        answer(bob, question_id)
        work_outbox(app)                                   # Ann's notification goes out ... and is refused
        wait_until(lambda: config.relay.feedback_file.exists()
                   and b"ann@example.org" in config.relay.feedback_file.read_bytes(),
                   what="the relay's feedback line for ann")
        work_outbox(app)                                   # ... which the worker reads
        with app.app_context():
            assert db.session.execute(db.select(User.bouncing_at).filter_by(
                email="ann@example.org")).scalar() is not None
        answer(cat, question_id, body="Another way: `pathlib.Path.read_text().splitlines()`.")
        work_outbox(app)
        wait_until(lambda: any("bob@example.org" in r.recipients for r in smarthost.received),
                   what="Bob's notification of Cat's answer")
        assert all("ann@example.org" not in r.recipients for r in smarthost.received)
    with app.app_context():
        statuses = db.session.execute(db.select(OutboxDelivery.status).join(User)
                                      .where(User.email == "ann@example.org")
                                      .order_by(OutboxDelivery.event_id)).scalars().all()
    assert statuses == ["sent", "bouncing"]
    page = ann.get(f"/questions/{question_id}").get_data(as_text=True)
    assert "Our mail to ann@example.org is not being delivered" in page
