"""GET /metrics: the outbox figures (webapp.mail.outbox.figures) in Prometheus text format.

Answered to loopback clients only (127.0.0.1, ::1), so a scraper on the host reads it and
the world does not; anyone else gets the site's 404. Behind a reverse proxy the client's
address is the real one only through ProxyFix ([webapp] trusted_proxies): a request that
carries X-Forwarded-For while no proxy is trusted came through a proxy we were not told
of, and is refused too. No session is touched (no cookie is set) and no rate limit applies.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from webapp.mail import outbox
from webapp.site.config import site_config
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
}


@bp.route("/metrics")
@limiter.exempt
def metrics():
    if request.remote_addr not in LOOPBACK_CLIENTS or _through_an_untrusted_proxy():
        abort(404)
    return Response(exposition(outbox.figures()), content_type=CONTENT_TYPE)


def exposition(figures: dict) -> str:
    lines = []
    for key, (name, text) in METRICS.items():
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} gauge",
                  f"{PREFIX}{name} {figures[key]}"]
    return "\n".join(lines) + "\n"


def _through_an_untrusted_proxy() -> bool:
    return not site_config().webapp.trusted_proxies and "X-Forwarded-For" in request.headers
