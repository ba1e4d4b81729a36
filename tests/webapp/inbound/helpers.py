"""What the inbound tests share: a member's notification as it went out (its return path and
the message a bounce returns), the worker run once in process, and what it recorded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spooler.envelope import parse_pickup
from tests.webapp.mail.test_outbox import fan_out
from tests.webapp.qa_helpers import answer, ask, member
from webapp.accounts.models import User
from webapp.inbound.drop_folder import drop_folder
from webapp.inbound.models import InboundMessage
from webapp.inbound.worker import InboundWorker
from webapp.site.extensions import db


@dataclass(frozen=True)
class SentMail:
    return_path: str    # the envelope sender it went out with: bounces+TOKEN@...
    content: bytes      # the message, as a bounce quotes it


def notification_to_ann(app, config) -> SentMail:
    """Ann asks, Bob answers, the fan-out writes Ann's notification: its return path and bytes."""
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    assert fan_out(app) == 1
    [path] = config.pickup.dir.glob("n*.bulk.eml")
    parsed = parse_pickup(path.read_bytes())
    return SentMail(parsed.sender, parsed.content)


def folder_of(config) -> Path:
    return drop_folder(config)


def run_worker(app, **options) -> int:
    """One in-process worker until the drop folder is empty; how many files it handled."""
    with app.app_context():
        worker = InboundWorker(**options)
        try:
            return worker.run(lambda: False, once=True)
        finally:
            worker.close()


def records(app) -> list[tuple[str, str, str, int | None]]:
    """(file name, handled, detail, member id) of every record, oldest first."""
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            db.select(InboundMessage.file_name, InboundMessage.handled, InboundMessage.detail,
                      InboundMessage.member_id).order_by(InboundMessage.id)).all()]


def bounce_state(app, email: str) -> tuple:
    """(bouncing_at is set, soft_bounces, bounce_reason) of the member with `email`."""
    with app.app_context():
        user = User.by_email(email)
        return user.bouncing_at is not None, user.soft_bounces, user.bounce_reason


def settings_of(app, email: str) -> tuple[str, bool]:
    """(notify_mode, newsletter) of the member with `email`."""
    with app.app_context():
        user = User.by_email(email)
        return user.notify_mode, user.newsletter
