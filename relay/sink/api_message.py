"""The API's single messages: one message whole, its source, an attachment, a check of its
links, and a wait for the next message a search finds.

GET /api/v1/message/ID               the message JSON (api_json.message_json); marks it read
GET /api/v1/message/ID/raw           the source as received (text/plain, inert)
GET /api/v1/message/ID/part/N        attachment N, as a download
GET /api/v1/message/ID/link-check    {"links": [{url, status, error, ok}]}: each link asked
                                     from this machine (links.check_links)
GET /api/v1/wait?query=Q&timeout=S&after=CURSOR
    the newest message matching Q with a cursor above `after` (a message id works too), already
    there or the first to arrive, as the message JSON (not marked read); 408 after S seconds
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from relay.sink.api_json import ApiError, message_json, stored_message, the_index
from relay.sink.api_listing import cursor_arg
from relay.sink.guard import INERT_CSP, inert_download
from relay.sink.links import check_links
from relay.sink.message_view import attachment, view

WAIT_DEFAULT = 10.0        # seconds
WAIT_MAX = 300.0

message = Blueprint("message", __name__)


@message.get("/message/<name>")
def whole(name: str):
    index = the_index()
    entry = _entry(name)
    found = message_json(entry, stored_message(index, name))
    if index.mark_read([name]):
        found["read"] = True
    return jsonify(found)


@message.get("/message/<name>/raw")
def raw(name: str):
    response = Response(stored_message(the_index(), name).content, mimetype="text/plain")
    response.headers["Content-Security-Policy"] = INERT_CSP
    return response


@message.get("/message/<name>/part/<int:index>")
def part(name: str, index: int):
    found = attachment(stored_message(the_index(), name), index)
    if found is None:
        raise ApiError(404, f"message {name!r} has no attachment {index}")
    described, data = found
    return inert_download(data, described.filename or f"attachment-{index}")


@message.get("/message/<name>/link-check")
def link_check(name: str):
    checked = check_links(view(stored_message(the_index(), name)))
    return jsonify(links=[{"url": c.url, "status": c.status, "error": c.error, "ok": c.ok}
                          for c in checked])


@message.get("/wait")
def wait():
    index = the_index()
    query = request.args.get("query", "")
    found = index.wait_for(query, timeout=_timeout(), after=_after())
    if found is None:
        raise ApiError(408, f"no message matching {query!r} arrived in time")
    return jsonify(message_json(found, stored_message(index, found.name)))


def _entry(name: str):
    entry = the_index().get(name)
    if entry is None:
        raise ApiError(404, f"no message with id {name!r}: it was deleted, or never arrived")
    return entry


def _timeout() -> float:
    given = request.args.get("timeout")
    if given is None:
        return WAIT_DEFAULT
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= WAIT_MAX:   # also NaN
        raise ApiError(400, f"timeout must be seconds from 0 to {WAIT_MAX:g}, not {given!r}")
    return seconds


def _after() -> int:
    """The cursor messages must be newer than: ?after= a cursor or a message id; else 0."""
    given = request.args.get("after", "")
    if given and not given.isdigit():
        entry = the_index().get(given)
        if entry is None:
            raise ApiError(400, f"after={given!r}: no such message (pass \"latest\" of a "
                                "listing, or the id of a message still in the inbox)")
        return entry.id
    return cursor_arg("after") or 0
