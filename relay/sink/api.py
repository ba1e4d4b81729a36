"""The inbox's JSON API under /api/v1/ (Mailpit's paths where they fit), on the inbox's own
loopback port, and its live stream of changes for the page.

The routes live in api_listing.py (lists, searches, marks, deletes) and api_message.py (one
message, its source, attachments, link check, the wait); this module joins them, answers every
error as JSON {"error": ...}, and refuses a state-changing call a browser says came from another
site (relay/sink/origin.py), so a page elsewhere cannot mark, delete or clear.

GET /api/v1/events is a server-sent event stream: `event: new` with one message summary (the
JSON of entry_json) for each message indexed after the id the client last saw (its
Last-Event-ID, or `?after=`), and `event: changed` with the counts when messages were read,
unread or deleted. A stream ends after STREAM_LIFETIME (the browser reconnects and
resumes from its last id) or when the inbox stops.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from relay.sink.api_json import ApiError, counts, entry_json, error_response, the_index
from relay.sink.api_listing import listing
from relay.sink.api_message import message
from relay.sink.origin import cross_site

__all__ = ["api", "counts", "entry_json", "the_index"]

STREAM_LIFETIME = 300.0   # seconds: a stream a closed tab left behind ends by itself
ARRIVAL_BATCH = 100       # messages read from the index at a time for the stream
KEEPALIVE = 15.0          # seconds between comments that keep proxies and the browser patient
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

api = Blueprint("api", __name__, url_prefix="/api/v1")
api.register_blueprint(listing)
api.register_blueprint(message)


@api.before_request
def refuse_other_sites():
    if request.method not in SAFE_METHODS and cross_site():
        return error_response(403, "refused: a page of another site may not change this inbox "
                                   "(call the API from a script, or from the inbox's own page)")
    return None


@api.errorhandler(ApiError)
def api_error(e: ApiError):
    return error_response(e.status, e.message)


@api.app_errorhandler(HTTPException)
def http_error(e: HTTPException):
    """Errors under /api/ as JSON (an unknown path or method too); the pages' stay as they are."""
    if not request.path.startswith(api.url_prefix + "/"):
        return e
    return error_response(e.code or 500, e.description or e.name)


@api.get("/events")
def events():
    index = the_index()
    last_seen = request.headers.get("Last-Event-ID") or request.args.get("after")
    after = int(last_seen) if last_seen and last_seen.isdigit() else index.last_id()

    def arrivals():
        """An event for each message indexed after `after`, all of them, in batches."""
        nonlocal after
        while True:
            batch = index.newer(after, limit=ARRIVAL_BATCH)
            for entry in batch:
                after = entry.id
                yield f"id: {entry.id}\nevent: new\ndata: {json.dumps(entry_json(entry))}\n\n"
            if len(batch) < ARRIVAL_BATCH:
                return

    def stream():
        version = index.version   # before the first look: a change after it wakes the loop
        ends = time.monotonic() + STREAM_LIFETIME
        yield "retry: 1000\n\n"
        yield from arrivals()     # what came between the page's last id and this stream
        while not index.closed and time.monotonic() < ends:
            seen = index.wait_for_change(version, min(KEEPALIVE, ends - time.monotonic()))
            if index.closed:
                return
            if seen == version:
                yield ": still here\n\n"
                continue
            version, before = seen, after
            yield from arrivals()
            if after == before:   # nothing new: something was read, unread or deleted
                yield f"event: changed\ndata: {json.dumps(counts(index))}\n\n"

    response = Response(stream(), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"
    return response
