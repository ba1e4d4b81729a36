"""The API's lists: list and search messages by keyset pages, newest first; mark them read or
unread; delete some, the ones a search finds, or all.

GET    /api/v1/messages?limit=N&before=CURSOR    a page: {total, unread, count, messages, next,
                                                 latest}; pass "next" as before= for older ones
GET    /api/v1/search?query=Q&limit=N&before=C   the same for a search (relay/sink/search.py),
                                                 plus "query"
PUT    /api/v1/messages  {"ids": [...], "read": true|false}   without ids: every message
DELETE /api/v1/messages  {"ids": [...]}          those; with no body (or {}): every message
DELETE /api/v1/search?query=Q                    every message the search finds
A cursor is an index id (an integer); "latest" is the newest message's, to pass as after= to
/wait. Bad parameters are 400 with {"error"}.
"""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, request

from relay.sink.api_json import ApiError, counts, entry_json, the_index

LIMIT_DEFAULT = 50
LIMIT_MAX = 1000

listing = Blueprint("listing", __name__)


@listing.get("/messages")
def messages():
    return jsonify(_page(""))


@listing.get("/search")
def search():
    query = request.args.get("query", "")
    return jsonify(_page(query) | {"query": query})


@listing.put("/messages")
def mark():
    body = _json_body(allowed=("ids", "read"))
    read = body.get("read", True)
    if not isinstance(read, bool):
        raise ApiError(400, '"read" must be true or false')
    index = the_index()
    names = _ids(body)
    changed = index.mark_read(index.names("") if names is None else names, read=read)
    return jsonify({"changed": changed} | counts(index))


@listing.delete("/messages")
def delete():
    index = the_index()
    names = _ids(_json_body(allowed=("ids",)))
    deleted = index.clear() if names is None else index.delete(names)
    return jsonify({"deleted": deleted} | counts(index))


@listing.delete("/search")
def delete_found():
    query = request.args.get("query", "").strip()
    if not query:
        raise ApiError(400, "say which messages: ?query=... (DELETE /api/v1/messages deletes all)")
    index = the_index()
    deleted = index.delete(index.names(query))
    return jsonify({"deleted": deleted, "query": query} | counts(index))


def _page(query: str) -> dict:
    index = the_index()
    page = index.page(query, limit=_limit(), before=cursor_arg("before"))
    return {
        "total": page.total,
        "unread": index.unread_count(),
        "count": len(page.entries),
        "messages": [entry_json(entry) for entry in page.entries],
        "next": page.next_cursor,
        "latest": index.last_id(),
    }


def _limit() -> int:
    given = request.args.get("limit")
    if given is None:
        return LIMIT_DEFAULT
    if not given.isdigit() or int(given) > LIMIT_MAX:
        raise ApiError(400, f"limit must be a whole number from 0 to {LIMIT_MAX}, not {given!r}")
    return int(given)


def cursor_arg(name: str) -> int | None:
    """The cursor in ?name= (an integer as given by "next" or "latest"), or None."""
    given = request.args.get(name)
    if given is None or given == "":
        return None
    if not given.isdigit():
        raise ApiError(400, f"{name} must be a cursor (a whole number, as given in \"next\" "
                            f"or \"latest\"), not {given!r}")
    return int(given)


def _json_body(allowed: tuple[str, ...]) -> dict:
    """The request's JSON object; {} for an empty body. A key it does not know is refused:
    without "ids" a call means every message, so a misspelt "id" must not delete them all."""
    data = request.get_data(cache=True)
    if not data.strip():
        return {}
    try:
        body = json.loads(data)
    except ValueError as e:
        raise ApiError(400, f"the body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise ApiError(400, 'the body must be a JSON object, e.g. {"ids": ["..."]}')
    body = {key.lower(): value for key, value in body.items()}   # Mailpit writes "IDs", "Read"
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown key {unknown[0]!r}: this call takes "
                            + " and ".join(f'"{key}"' for key in allowed))
    return body


def _ids(body: dict) -> list[str] | None:
    """The message ids in the body ("ids"), or None when it names none (meaning: all)."""
    if "ids" not in body:
        return None
    ids = body["ids"]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, '"ids" must be a list of message ids (strings)')
    return ids
