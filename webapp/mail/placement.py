"""Finishing what dead writers staged in pickup: publish what they committed, discard the rest.

The fan-out and the digests stage files with spooler.staged and commit a row naming
the staging token (`placer`) before they publish. When a writer dies between the two,
its staged files stay under names the relay ignores. recover() (run by every fan-out
worker at start and every half minute, and by send-digests) finds the staged files of
dead writers in this host's pickup folder and asks the database which of them were
committed: those are published, the others discarded (their work is redone from the
committed progress). Before asking, it locks the row the writer's commit updates (the
event, or the member for a digest): a commit the dead writer sent just before it died
has then either happened or never will, so the answer cannot change after we act on it.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import date, datetime

from spooler import staged
from webapp.accounts.models import User
from webapp.mail.kinds import SENT
from webapp.mail.models import Digest, OutboxDelivery, OutboxEvent
from webapp.site.extensions import db

log = logging.getLogger(__name__)
_NOTIFICATION = re.compile(r"n(\d+)-(\d+)")
_DIGEST = re.compile(r"d(\d+)-(\d{8})")


def notification_key(event_id: int, user_id: int) -> str:
    """The staging key (and pickup file name) of the delivery key (event, member)."""
    return f"n{event_id}-{user_id}"


def digest_key(user_id: int, day: date) -> str:
    return f"d{user_id}-{day:%Y%m%d}"


def recover(pickup_dir) -> tuple[int, int]:
    """Deal with dead writers' staged files; returns (published, discarded)."""
    found = staged.orphans(pickup_dir)
    if not found:
        staged.remove_dead_locks(pickup_dir)
        return 0, 0
    publish, discard = [], []
    by_event, by_member = defaultdict(list), defaultdict(list)
    for orphan in found:
        if match := _NOTIFICATION.fullmatch(orphan.key):
            by_event[int(match.group(1))].append((int(match.group(2)), orphan))
        elif match := _DIGEST.fullmatch(orphan.key):
            by_member[int(match.group(1))].append((match.group(2), orphan))
        else:
            discard.append(orphan)
    for event_id, items in by_event.items():
        _fence(db.select(OutboxEvent.id).where(OutboxEvent.id == event_id))
        committed = set(db.session.execute(
            db.select(OutboxDelivery.user_id, OutboxDelivery.placer).where(
                OutboxDelivery.event_id == event_id, OutboxDelivery.status == SENT,
                OutboxDelivery.user_id.in_([user_id for user_id, _o in items]))).all())
        db.session.commit()
        for user_id, orphan in items:
            (publish if (user_id, orphan.token) in committed else discard).append(orphan)
    for user_id, items in by_member.items():
        _fence(db.select(User.id).where(User.id == user_id))
        committed = set(db.session.execute(
            db.select(Digest.day, Digest.placer).where(Digest.user_id == user_id)).all())
        db.session.commit()
        for day, orphan in items:
            key = (datetime.strptime(day, "%Y%m%d").date(), orphan.token)
            (publish if key in committed else discard).append(orphan)
    placed = staged.publish_orphans(pickup_dir, publish)
    staged.discard_orphans(discard)
    staged.remove_dead_locks(pickup_dir)
    if placed or discard:
        log.info("recovered dead writers' staged mail: %d published, %d discarded",
                 placed, len(discard))
    return placed, len(discard)


def _fence(query) -> None:
    """Wait for any transaction still holding the row (PostgreSQL); SQLite has no such thing:
    a dead process's transaction there is over."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(query.with_for_update())
