"""The queue dashboard for admins, /admin/queue: the relay's status and the moves an admin asks for.

The site never touches the queue (it is the relay's user's alone): it reads the
snapshot the relay publishes, <[relay] admin_dir>/status.json (relay.snapshot), and
asks for retry, hold, release, delete and requeue-badmail by writing a request the
relay carries out with relay.admin.apply_move (relay.move_requests), as `postqueue`
asks Postfix's daemon. Each move is a POST with a CSRF token, logged here and by the
relay with the admin's name; the page waits up to RESULT_WAIT for the relay's answer
and shows it per message. The lists are filtered by relay.report.matches, the rule of
`relay list`. /admin/queue.json gives the same page parts for the script that
refreshes them (static/queue_dashboard.js). Members who are not admins get 403.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from relay import snapshot
from relay.admin import MOVES
from relay.cli_common import human_age
from relay.control import PUBLISH_EVERY
from relay.move_requests import RequestRefused, read_result, submit
from relay.queue import BADMAIL, DEFERRED, HOLD
from relay.report import matches
from settings.units import parse_duration
from webapp.admin.access import admin_required
from webapp.site.config import site_config

bp = Blueprint("queue_dashboard", __name__, url_prefix="/admin")

RESULT_WAIT = 5.0           # how long a move's POST waits for the relay's answer
REFRESH_EVERY = 3           # seconds between the script's refreshes
STALE_AFTER = 4 * PUBLISH_EVERY   # an older snapshot: no relay is publishing
FOLDERS = (DEFERRED, HOLD, BADMAIL)
FILTERS = ("sender", "recipient", "older_than")


def moves_for(folder: str) -> list[str]:
    """The buttons of a folder's list: the moves whose messages are looked for there, and delete."""
    return [m for m, move in MOVES.items() if move.folder == folder or m == "delete"]


def _admin_dir():
    return site_config().relay.admin_dir


def _filters() -> tuple[dict, dict, str | None]:
    """The filters as typed (for the form), as relay.report.matches takes them, and a problem."""
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
    seen = snapshot.read(admin_dir) if admin_dir is not None else None
    rows = {f: [] for f in FOLDERS}
    if seen is not None:
        for folder in FOLDERS:
            rows[folder] = [(row, extra) for row, extra in seen.rows.get(folder, [])
                            if matches(row, **wanted)]
    return {"admin_dir": admin_dir, "seen": seen, "rows": rows, "filters": typed,
            "filter_problem": problem, "stale": seen is not None and seen.age > STALE_AFTER,
            "folders": FOLDERS, "moves_for": moves_for, "moves": MOVES, "age": human_age,
            "clock": _clock, "refresh_every": REFRESH_EVERY}


def _clock(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


@bp.route("/queue")
@admin_required
def index():
    view = _view()
    asked = request.args.get("request", "")
    view["result"] = read_result(view["admin_dir"], asked) if asked and view["admin_dir"] else None
    view["waiting_for"] = asked if asked and view["result"] is None else None
    return render_template("admin/queue.html", **view)


@bp.route("/queue.json")
@admin_required
def feed():
    view = _view()
    seen = view["seen"]
    return jsonify({
        "at": seen.at if seen else None,
        "summary": render_template("admin/_queue_summary.html", **view),
        "tables": {f: render_template("admin/_queue_rows.html", folder=f, **view) for f in FOLDERS},
        "counts": {f: t["count"] for f, t in seen.status["folders"].items()} if seen else None,
    })


@bp.route("/queue/move", methods=["POST"])
@admin_required
def move():
    typed, _wanted, _problem = _filters()
    back = {k: v for k, v in typed.items() if v}
    what = request.form.get("move", "")
    ids = request.form.getlist("ids")
    admin_dir = _admin_dir()
    if what not in MOVES:
        flash("Choose one of the buttons.")
        return redirect(url_for(".index", **back))
    if not ids:
        flash(f"Tick the messages to {what} first.")
        return redirect(url_for(".index", **back))
    if admin_dir is None:
        flash("The dashboard is off: [relay] admin_dir is empty in the config.")
        return redirect(url_for(".index", **back))
    admin = f"{current_user.display_name} <{current_user.email}>"
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
    deadline = time.monotonic() + RESULT_WAIT
    result = read_result(admin_dir, request_id)
    while result is None and time.monotonic() < deadline:
        time.sleep(0.1)
        result = read_result(admin_dir, request_id)
    if result is None:
        flash(f"Asked the relay to {what} {len(ids)} message(s); it has not answered yet "
              "(is it running?). Its answer will show here.")
    return redirect(url_for(".index", request=request_id, **back))
