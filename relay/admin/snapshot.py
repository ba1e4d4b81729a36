"""The queue's status for the site's dashboard, as the relay builds it from what it alone may read.

build() gathers relay.admin.status's report (with the smart host as the relays last
saw it: no probe, a running relay knows), the delivery rate and last error of the
live relays (relay.queue.activity) and the rows of the ROWS_PER_FOLDER newest
messages in each of channel.status.SHOWN_FOLDERS (envelope, the last HISTORY_SHOWN
attempts, the badmail reason; never a subject or a body) into a channel.status
Snapshot: the format, its file and its reading are channel.status's, which the site
imports; building it needs the queue, which only the relay may read.
relay.daemon.control writes it to <admin_dir>/status.json.
"""

from __future__ import annotations

import os

from channel.status import (
    BADMAIL,
    SHOWN_FOLDERS,
    AttemptShown,
    DeliveryActivity,
    QueueStatus,
    ShownMessage,
    Snapshot,
)
from relay.admin.listing import newest_rows
from relay.admin.status import status_report
from relay.queue.activity import combined
from relay.queue.folders import Queue
from relay.queue.pids import running_relays
from settings import Config

ROWS_PER_FOLDER = 500       # newest first; the counts are of every message
HISTORY_SHOWN = 10          # the last attempts of each message
REASON_SHOWN = 4000         # characters of a badmail reason


def build(config: Config, queue: Queue, now: float) -> Snapshot:
    """The snapshot of the queue now, for channel.status.write()."""
    activity = combined(queue.root, running_relays(config.relay.queue_dir)[0], now)
    report = status_report(config, queue, now=now, from_relays=True)
    # The status part is `relay status --json`'s report, read back typed: one shape for both.
    return Snapshot(now, os.getpid(), QueueStatus.from_json(report.to_json()),
                    DeliveryActivity.from_json(activity),
                    {folder: _shown(queue, folder, now) for folder in SHOWN_FOLDERS},
                    ROWS_PER_FOLDER)


def _shown(queue: Queue, folder: str, now: float) -> tuple[ShownMessage, ...]:
    shown = []
    for row in newest_rows(queue, folder, ROWS_PER_FOLDER, now):
        history = queue.history(row.id)
        attempts = history.attempts[-HISTORY_SHOWN:] if history else []
        reason = (queue.reason(row.id) or "")[:REASON_SHOWN] if folder == BADMAIL else None
        shown.append(ShownMessage(row, tuple(AttemptShown(a.at, a.code, a.reply, tuple(a.recipients))
                                             for a in attempts), reason))
    return tuple(shown)
