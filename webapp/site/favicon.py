"""The site's icon: static/favicon.svg, at /favicon.svg (the pages' link tag) and /favicon.ico
(where a browser or a feed reader looks without one), instead of a 404 on every page.

The file is read once per process and answered from memory: a browser fetches the icon late
and drops it when a page closes, and a file opened for it would then be left to the garbage
collector. Cached for a day, like a static file; no session, no rate limit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app

from webapp.site.extensions import limiter

bp = Blueprint("favicon", __name__)
FILE = "favicon.svg"
CACHE_FOR = 86_400   # seconds


@lru_cache(maxsize=1)
def _icon(static_folder: str) -> bytes:
    return (Path(static_folder) / FILE).read_bytes()


@bp.route("/favicon.ico")
@bp.route("/favicon.svg")   # registered first, so url_for() gives this one
@limiter.exempt
def icon() -> Response:
    response = Response(_icon(current_app.static_folder), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_FOR
    return response
