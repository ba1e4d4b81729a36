"""The queue dashboard for admins, /admin/queue: the relay's status and the moves an admin asks for.

The site never touches the queue (it is the relay's user's alone): it reads the
snapshot the relay publishes, <[relay] admin_dir>/status.json (channel.status), and
asks for retry, hold, release, delete and requeue-badmail by writing a request
(channel.moves) that the relay carries out, as `postqueue` asks Postfix's daemon. Each
move is a POST with a CSRF token, logged here and by the relay with the admin's name;
the POST writes the request and redirects at once to the page with ?request=ID, which
shows the relay's answer per message once it exists, and until then says it is asked
(the script, static/queue_dashboard.js, asks /admin/queue/result.json for the answer
and shows it when it comes). The lists are filtered by channel.status.matches, the rule
of `relay list`. /admin/queue.json gives the page's parts for the script that refreshes
them. Below the queue, what came back per day (webapp.inbound.figures): bounces, complaints,
replies and the complaint rate, and the newest complaints. Members who are not admins get 403.
"""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from channel import status
from channel.moves import (
    MOVE_NAMES,
    MoveName,
    RequestRefused,
    admin_name,
    is_request_id,
    read_result,
    submit,
)
from settings.units import format_age, parse_duration
from webapp.admin.access import admin_required
from webapp.inbound import figures
from webapp.site.config import site_config

bp = Blueprint("queue_dashboard", __name__, url_prefix="/admin")

REFRESH_EVERY = 3           # seconds between the script's refreshes
STALE_AFTER = 4 * status.PUBLISH_EVERY   # an older snapshot: no relay is publishing
FOLDERS = status.SHOWN_FOLDERS
FILTERS = ("sender", "recipient", "older_than")
COMPLAINTS_SHOWN = 10


def moves_for(folder: str) -> list[MoveName]:
    """The buttons of a folder's list: the moves whose messages are looked for there, and delete."""
    return [m for m in MoveName if m.folder == folder or m == MoveName.DELETE]


def _admin_dir():
    return site_config().relay.admin_dir


def _filters() -> tuple[dict, dict, str | None]:
    """The filters as typed (for the form), as channel.status.matches takes them, and a problem."""
    typed = {k: request.values.get(k, "").strip()[:200] for k in FILTERS}
    problem = None
    older_than = None
    if typed["older_than"]:
        try:
            older_than = parse_duration(typed["older_than"])
        except ValueError as e:
            problem = f"older than: {e}"
    return typed, {"sender": typed["sender"] or None, "recipient": typed["recipient"] or None,
                   "older_than": older_than}, problem


def _view() -> dict:
    """What the page and its refreshes show: the snapshot, filtered."""
    admin_dir = _admin_dir()
    typed, wanted, problem = _filters()
    seen = status.read(admin_dir) if admin_dir is not None else None
    rows = {f: [] for f in FOLDERS}
    if seen is not None:
        for folder in FOLDERS:
            rows[folder] = [shown for shown in seen.messages.get(folder, ())
                            if status.matches(shown.row, **wanted)]
    return {"admin_dir": admin_dir, "seen": seen, "rows": rows, "filters": typed,
            "filter_problem": problem, "stale": seen is not None and seen.age > STALE_AFTER,
            "folders": FOLDERS, "moves_for": moves_for, "age": format_age,
            "clock": _clock, "refresh_every": REFRESH_EVERY}


def _clock(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


@bp.route("/queue")
@admin_required
def index():
    view = _view()
    asked = request.args.get("request", "")   # the move just asked for, from the redirect
    if not is_request_id(asked) or view["admin_dir"] is None:
        asked = ""
    view["result"] = read_result(view["admin_dir"], asked) if asked else None
    view["waiting_for"] = asked if asked and view["result"] is None else None
    return render_template("admin/queue.html", **view, returned=figures.daily(),
                           complaints=figures.recent_complaints(COMPLAINTS_SHOWN),
                           rate_limit=figures.COMPLAINT_RATE_LIMIT)


@bp.route("/queue/result.json")
@admin_required
def answer():
    """The relay's answer to one request, for the script to show when it comes."""
    asked = request.args.get("request", "")
    if not is_request_id(asked):
        abort(404)
    admin_dir = _admin_dir()
    result = read_result(admin_dir, asked) if admin_dir is not None else None
    return jsonify({"request": asked, "answered": result is not None,
                    "html": render_template("admin/_move_result.html", result=result)
                    if result is not None else None})


@bp.route("/queue.json")
@admin_required
def feed():
    view = _view()
    seen = view["seen"]
    return jsonify({
        "at": seen.at if seen else None,
        "summary": render_template("admin/_queue_summary.html", **view),
        "tables": {f: render_template("admin/_queue_rows.html", folder=f, **view) for f in FOLDERS},
        "counts": {f: t.count for f, t in seen.status.folders.items()} if seen else None,
    })


@bp.route("/queue/move", methods=["POST"])
@admin_required
def move():
    typed, _wanted, _problem = _filters()
    back = {k: v for k, v in typed.items() if v}
    what = request.form.get("move", "")
    ids = request.form.getlist("ids")
    admin_dir = _admin_dir()
    if what not in MOVE_NAMES:
        flash("Choose one of the buttons.")
        return redirect(url_for(".index", **back))
    if not ids:
        flash(f"Tick the messages to {what} first.")
        return redirect(url_for(".index", **back))
    if admin_dir is None:
        flash("The dashboard is off: [relay] admin_dir is empty in the config.")
        return redirect(url_for(".index", **back))
    admin = admin_name(current_user.display_name, current_user.email)
    try:
        request_id = submit(admin_dir, what, ids, admin)
    except RequestRefused as e:
        flash(f"Not sent to the relay: {e}.")
        return redirect(url_for(".index", **back))
    except OSError as e:
        current_app.logger.error("queue dashboard: cannot write a request to %s: %s", admin_dir, e)
        flash(f"The request could not be written ({e.strerror or e}): is the relay running with "
              f"[relay] admin_dir = {admin_dir}, and may the site's user write to its requests/?")
        return redirect(url_for(".index", **back))
    current_app.logger.info("queue dashboard: admin %s (member %s) asked to %s %s (request %s)",
                            admin, current_user.id, what, ", ".join(ids), request_id)
    flash(f"Asked the relay to {what} {len(ids)} message(s).")
    return redirect(url_for(".index", request=request_id, **back))
