"""GET /metrics: the outbox figures (webapp.mail.outbox.figures) in Prometheus text format.

Answered to a scraper on this host talking to the site itself (gunicorn's loopback address)
and to no one else: anyone else gets the site's 404. A request that carries X-Forwarded-For
came through a proxy (contrib/nginx.conf closes /metrics) or claims to have, and is refused
whatever the header says: with [webapp] trusted_proxies set, a client that reaches gunicorn
directly would otherwise be whoever its header names. No session is touched (no cookie is
set) and no rate limit applies.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from webapp.mail import outbox
from webapp.site.extensions import limiter

bp = Blueprint("metrics", __name__)

LOOPBACK_CLIENTS = ("127.0.0.1", "::1")
PREFIX = "pickup_relay_outbox_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# figures() key -> (metric name, help text); every one is a gauge: the last hour is a window.
METRICS = {
    "waiting": ("waiting", "Notification events not yet fanned out and not leased (due or held)."),
    "in_progress": ("in_progress", "Notification events a fan-out worker holds a lease on."),
    "held": ("held", "Notification events still inside the hold window (notification_delay)."),
    "done_last_hour": ("done_last_hour", "Notification events finished in the last hour."),
    "sent_last_hour": ("sent_last_hour", "Notification mails written to pickup in the last hour."),
    "oldest_waiting_s": ("oldest_waiting_seconds",
                         "Seconds the oldest due notification event has waited; 0 when none."),
    "mail_waiting": ("mail_waiting", "Notification mails to members away, waiting mail_when_away "
                                     "to see if the member reads it on the site first."),
    "oldest_mail_waiting_s": ("oldest_mail_waiting_seconds",
                              "Seconds the oldest of those mails has waited; 0 when none."),
}


@bp.route("/metrics")
@limiter.exempt
def metrics():
    if request.remote_addr not in LOOPBACK_CLIENTS or "X-Forwarded-For" in request.headers:
        abort(404)
    return Response(exposition(outbox.figures()), content_type=CONTENT_TYPE)


def exposition(figures: dict) -> str:
    lines = []
    for key, (name, text) in METRICS.items():
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} gauge",
                  f"{PREFIX}{name} {figures[key]}"]
    return "\n".join(lines) + "\n"

