"""Release routes: the form that sends one captured message to a real SMTP server, and
POST /api/v1/message/<id>/release.

GET and POST /messages/<id>/release: the form (also included in the message page as
inbox/release.html) and what became of the release. POST /api/v1/message/<id>/release
takes {"to": [addresses]} (Mailpit's "To" too; none: the envelope recipients) and answers
200 {"sent_to", "refused"}, or {"error"} with 400 (no address), 403 (not in
allowed_recipients, or another site's page), 404 (no such message), 409 (release off) or
502 (the server or the network said no). The rules are relay.sink.release's.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from relay.sink.actions import CROSS_SITE, inbox_config
from relay.sink.api import the_index
from relay.sink.api_json import error_response
from relay.sink.maildir import Maildir, StoredMessage
from relay.sink.origin import cross_site, same_origin
from relay.sink.release import (
    RecipientNotAllowed,
    Released,
    ReleaseError,
    ReleaseFailed,
    ReleaseOff,
    release,
    typed_recipients,
)
from settings import ReleaseConfig

release_routes = Blueprint("release", __name__)


def release_config() -> ReleaseConfig:
    config = inbox_config()
    return config.sink.release if config is not None else ReleaseConfig(host="")


@release_routes.app_context_processor
def release_setup() -> dict:
    """What the release form shows: where it sends (None: off) and to whom it may."""
    config = release_config()
    server = f"{config.host}:{config.port}" if config.host else None
    return {"release_server": server, "release_allowed": config.allowed_recipients}


@release_routes.get("/messages/<name>/release", endpoint="form")
def release_form(name: str):
    return _page(name, _stored(name))


@release_routes.post("/messages/<name>/release", endpoint="send")
def release_from_form(name: str):
    if not same_origin():
        return Response("Release a message from the inbox's own page.\n", 403, mimetype="text/plain")
    stored = _stored(name)
    typed = request.form.get("to", "")
    try:
        released = release(stored, typed_recipients(typed), release_config())
    except ReleaseError as e:
        return _page(name, stored, typed=typed, error=str(e)), _status(e)
    return _page(name, stored, typed=typed, released=released)


@release_routes.post("/api/v1/message/<name>/release")
def release_by_api(name: str):
    if cross_site():
        return error_response(403, CROSS_SITE)
    # Any Content-Type: curl -d says form-urlencoded; another site's page was refused above.
    body = request.get_json(force=True, silent=True) if request.content_length else {}
    recipients = body.get("to", body.get("To", [])) if isinstance(body, dict) else None   # Mailpit: "To"
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        return error_response(400, 'expected a JSON object like {"to": ["me@example.org"]}')
    stored = _stored(name, json_404=True)
    try:
        released = release(stored, recipients, release_config())
    except ReleaseError as e:
        return error_response(_status(e), str(e))
    return _released_json(released)


def _page(name: str, stored: StoredMessage, **outcome) -> str:
    entry = the_index().get(name)
    return render_template("inbox/release_page.html", name=name, stored=stored,
                           subject=entry.subject if entry else "", **outcome)


def _released_json(released: Released) -> dict:
    return {"sent_to": list(released.sent_to), "server": released.server,
            "refused": [{"to": to, "reply": reply} for to, reply in released.refused]}


def _status(error: ReleaseError) -> int:
    if isinstance(error, ReleaseOff):
        return 409
    if isinstance(error, ReleaseFailed):
        return 502
    if isinstance(error, RecipientNotAllowed):
        return 403
    return 400


def _stored(name: str, json_404: bool = False) -> StoredMessage:
    """The message called `name`; 404 (as JSON for the API) when there is none."""
    path = the_index().maildir.find(name)
    try:
        if path is not None:
            return Maildir.read(path)
    except FileNotFoundError:
        pass   # deleted meanwhile
    abort(error_response(404, f"no message {name}") if json_404 else 404)
