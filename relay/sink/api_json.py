"""What the inbox's JSON API says: a message in a listing, a whole message, the counts, and an
error; shared by the API's routes (relay/sink/api*.py) and the live page's stream.

A message's "id" is its Maildir file name; "date" is when the sink received it (ISO 8601, UTC),
"header_date" the Date header as the sender wrote it. Everything comes from the message as
decoded by message_view (untrusted text, never markup; the HTML part is returned as text for
the client to sandbox).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, jsonify, url_for

from relay.sink.index import Entry, MessageIndex
from relay.sink.links import links
from relay.sink.maildir import StoredMessage
from relay.sink.message_view import header, parse, view


class ApiError(Exception):
    """An answer of `status` with {"error": message}: what was wrong and what to do."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str):
    response = jsonify(error=message)
    response.status_code = status
    return response


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


def stored_message(index: MessageIndex, name: str) -> StoredMessage:
    """The message called `name` as stored; ApiError 404 when there is none (or no longer)."""
    found = index.maildir.message(name)
    if found is None:
        raise ApiError(404, f"no message with id {name!r}: it was deleted, or never arrived")
    return found[0]


def message_json(entry: Entry, stored: StoredMessage) -> dict:
    """Everything about one message: the listing's fields, then its parts, links and files.
    Unlike the listing's, "to" leaves out the Cc (given apart as "cc")."""
    shown = view(stored)
    message = parse(stored.content, headers_only=True)
    return entry_json(entry) | {
        "to": shown.summary.recipients,   # the To header; the envelope when there is none
        "cc": header(message, "Cc"),
        "reply_to": header(message, "Reply-To"),
        "header_date": shown.date,
        "message_id": header(message, "Message-ID"),
        "text": shown.text,
        "html": shown.html,
        "headers": [[name, value] for name, value in shown.headers],
        "links": links(shown),
        "attachments": [{
            "index": a.index, "filename": a.filename, "content_type": a.content_type,
            "size": a.size,
            "url": url_for("api.message.part", name=entry.name, index=a.index),
        } for a in shown.attachments],
        "raw_url": url_for("api.message.raw", name=entry.name),
    }
