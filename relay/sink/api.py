"""The inbox's JSON API under /api/v1/ (Mailpit's paths where they fit), on the inbox's own
loopback port, and its live stream of changes for the page.

GET /api/v1/events is a server-sent event stream: `event: new` with one message summary (the
JSON of entry_json) for each message indexed after the id the client last saw (its
Last-Event-ID, or `?after=`), and `event: changed` with the counts when messages were read,
unread or deleted. A stream ends after STREAM_LIFETIME (the browser reconnects and
resumes from its last id) or when the inbox stops.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request

from relay.sink.index import Entry, MessageIndex

STREAM_LIFETIME = 300.0   # seconds: a stream a closed tab left behind ends by itself
KEEPALIVE = 15.0          # seconds between comments that keep proxies and the browser patient

api = Blueprint("api", __name__, url_prefix="/api/v1")


def the_index() -> MessageIndex:
    return current_app.extensions["inbox_index"]


def entry_json(entry: Entry) -> dict:
    """What a listing says of one message."""
    return {
        "id": entry.name,
        "from": entry.from_header,
        "to": entry.to_header,
        "subject": entry.subject,
        "snippet": entry.snippet,
        "date": datetime.fromtimestamp(entry.received_ns / 1e9, UTC).isoformat(),
        "size": entry.size,
        "attachments": entry.attachments,
        "read": entry.read,
        "envelope": {"from": entry.envelope_from, "to": list(entry.envelope_to)},
    }


def counts(index: MessageIndex) -> dict:
    return {"total": index.page(limit=0).total, "unread": index.unread_count()}


@api.get("/events")
def events():
    index = the_index()
    last_seen = request.headers.get("Last-Event-ID") or request.args.get("after")
    after = int(last_seen) if last_seen and last_seen.isdigit() else index.last_id()

    def stream():
        nonlocal after
        version = index.version
        ends = time.monotonic() + STREAM_LIFETIME
        yield "retry: 1000\n\n"
        while not index.closed and time.monotonic() < ends:
            seen = index.wait_for_change(version, min(KEEPALIVE, ends - time.monotonic()))
            if index.closed:
                return
            if seen == version:
                yield ": still here\n\n"
                continue
            version = seen
            arrived = index.newer(after)
            for entry in arrived:
                after = entry.id
                yield f"id: {entry.id}\nevent: new\ndata: {json.dumps(entry_json(entry))}\n\n"
            if not arrived:   # something was read, unread or deleted
                yield f"event: changed\ndata: {json.dumps(counts(index))}\n\n"

    response = Response(stream(), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"
    return response
