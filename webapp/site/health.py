"""GET /healthz: 200 with a short JSON body when the database answers and pickup takes a file,
503 naming what failed otherwise. For load balancers and monitors: no session cookie, no
rate limit, nothing about the site beyond those two words.

A probe writes, fsyncs and removes a file in pickup and queries the database; each process
answers from its last probe for PROBE_EVERY, so a flood of hits (it needs no login) costs a
probe a second per process, and a failure shows within a second.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from webapp.site.check import database_answers, pickup_writable
from webapp.site.extensions import limiter

bp = Blueprint("health", __name__)

PROBE_EVERY = 1.0   # seconds
_LAST_PROBE = "healthz_last_probe"   # app.extensions: (monotonic time, the parts failing)


@bp.route("/healthz")
@limiter.exempt
def healthz():
    failed = _failing()
    body = {"status": "ok" if not failed else "failing",
            "database": "ok" if "database" not in failed else "failing",
            "pickup": "ok" if "pickup" not in failed else "failing"}
    response = jsonify(body)
    response.status_code = 503 if failed else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def _failing() -> frozenset[str]:
    """The parts that failed this app's last probe, probed again when it is PROBE_EVERY old."""
    now = time.monotonic()
    last = current_app.extensions.get(_LAST_PROBE)
    if last is None or now - last[0] >= PROBE_EVERY:
        failing = frozenset(name for name, problem in (("database", database_answers()),
                                                       ("pickup", pickup_writable())) if problem)
        last = current_app.extensions[_LAST_PROBE] = (now, failing)
    return last[1]
