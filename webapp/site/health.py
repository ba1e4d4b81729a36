"""GET /healthz: 200 with a short JSON body when the database answers and pickup takes a file,
503 naming what failed otherwise. For load balancers and monitors: no session cookie, no
rate limit, nothing about the site beyond those two words."""

from __future__ import annotations

from flask import Blueprint, jsonify

from webapp.site.check import database_answers, pickup_writable
from webapp.site.extensions import limiter

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@limiter.exempt
def healthz():
    failed = {name: problem for name, problem in (("database", database_answers()),
                                                  ("pickup", pickup_writable())) if problem}
    body = {"status": "ok" if not failed else "failing",
            "database": "ok" if "database" not in failed else "failing",
            "pickup": "ok" if "pickup" not in failed else "failing"}
    response = jsonify(body)
    response.status_code = 503 if failed else 200
    response.headers["Cache-Control"] = "no-store"
    return response
