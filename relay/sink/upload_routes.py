"""Upload routes: .eml files placed in pickup by hand, as `relay drop` places them.

GET /upload: a form for one or more files and their priority; POST /upload answers per file
with `relay drop`'s own line ("queued  FILE -> PATH (from <x>, N recipients)" or
"refused FILE: REASON"). POST /api/v1/pickup takes one message as the request body
(Content-Type message/rfc822, or any but multipart) or as the multipart field "file", and
?priority=bulk; it answers 201 {"file", "sender", "recipients"} or {"error"} with 400 (the
reason `relay drop` gives), 403 (another site's page), 409 (no pickup folder configured) or
413 (the request is larger than MAX_FILES [relay] max_message_size files). The rule is
spooler.drop's; reads [pickup] dir and [relay] max_message_size.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from relay.sink.actions import CROSS_SITE, inbox_config
from relay.sink.api_json import error_response
from relay.sink.origin import cross_site, same_origin
from settings.units import format_size
from spooler.drop import DropRefused, drop_message, queued_line, refused_line
from spooler.names import PRIORITIES, TRANSACTIONAL
from spooler.pickup import PickupWriter

MAX_FILES = 10   # a request may hold this many messages of the largest size
UPLOAD_OFF = ("upload is off: this inbox was started without a config naming the pickup folder "
              "(`relay inbox` reads [pickup] dir from config.toml)")

upload_routes = Blueprint("upload", __name__)


@upload_routes.before_request
def limit_the_request() -> None:
    config = inbox_config()
    if config is not None:
        request.max_content_length = MAX_FILES * config.relay.max_message_size + 64 * 1024


@upload_routes.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    reason = (f"the upload is larger than {format_size(request.max_content_length or 0)}: send at "
              f"most {MAX_FILES} messages at once")
    if request.path.startswith("/api/"):
        return error_response(413, reason)
    return render_template("inbox/upload.html", **_form(), lines=[(False, reason)]), 413


@upload_routes.get("/upload", endpoint="form")
def upload_form():
    return render_template("inbox/upload.html", **_form())


@upload_routes.post("/upload", endpoint="send")
def upload_from_form():
    if not same_origin():
        return Response("Upload from the inbox's own page.\n", 403, mimetype="text/plain")
    writer = _writer()
    if writer is None:
        return render_template("inbox/upload.html", **_form()), 409
    priority = request.form.get("priority", TRANSACTIONAL)
    if priority not in PRIORITIES:
        priority = TRANSACTIONAL
    lines = []
    for upload in request.files.getlist("files"):
        name = upload.filename or "(unnamed)"
        try:
            dropped = drop_message(upload.stream.read(writer.max_size + 1), writer, priority)
        except DropRefused as e:
            lines.append((False, refused_line(name, str(e))))
            continue
        lines.append((True, queued_line(name, dropped)))
    if not lines:
        lines.append((False, "no file chosen: choose one or more .eml files"))
    return render_template("inbox/upload.html", **_form(priority), lines=lines)


@upload_routes.post("/api/v1/pickup")
def upload_by_api():
    if cross_site():
        return error_response(403, CROSS_SITE)
    writer = _writer()
    if writer is None:
        return error_response(409, UPLOAD_OFF)
    priority = request.args.get("priority", TRANSACTIONAL)
    if priority not in PRIORITIES:
        return error_response(400, f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    if request.mimetype.startswith("multipart/"):
        upload = request.files.get("file")
        if upload is None:
            return error_response(400, 'no file: send the message as the multipart field "file", '
                                  "or as the request body (Content-Type: message/rfc822)")
        stream = upload.stream
    else:
        stream = request.stream
    try:
        dropped = drop_message(stream.read(writer.max_size + 1), writer, priority)
    except DropRefused as e:
        return error_response(400, str(e))
    return {"file": str(dropped.path), "sender": dropped.sender,
            "recipients": list(dropped.recipients)}, 201


def _writer() -> PickupWriter | None:
    config = inbox_config()
    if config is None:
        return None
    return PickupWriter(config.pickup.dir, max_size=config.relay.max_message_size)


def _form(priority: str = TRANSACTIONAL) -> dict:
    config = inbox_config()
    return {"pickup": config.pickup.dir if config else None, "off": UPLOAD_OFF,
            "max_size": config.relay.max_message_size if config else 0,
            "priorities": PRIORITIES, "priority": priority}
