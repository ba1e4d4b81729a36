"""Where a request to the inbox says it comes from: one rule for the pages' forms and the API.

A browser names the page a request comes from (Origin, else Sec-Fetch-Site, else Referer in
browsers older than both); a script, curl or a test names none. The pages change state only
when the browser says the request is their own; the API also serves scripts, so it refuses only
what a browser says came from another site (a page elsewhere must not clear the inbox). The
loopback Host guard in inbox.py already turns away DNS rebinding.
"""

from __future__ import annotations

from enum import Enum

from flask import request


class Origin(Enum):
    SAME = "same-origin"     # a page of the inbox itself
    CROSS = "cross-site"     # a page of another origin (or an opaque one: a sandboxed frame)
    UNSAID = "unsaid"        # no browser header at all: a script, curl, a test


def request_origin() -> Origin:
    own = f"{request.scheme}://{request.host}"
    origin = request.headers.get("Origin")
    if origin is not None:
        return Origin.SAME if origin == own else Origin.CROSS
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site == "none":     # typed or bookmarked by the person at the browser
        return Origin.UNSAID
    if fetch_site is not None:
        return Origin.SAME if fetch_site == "same-origin" else Origin.CROSS
    referer = request.headers.get("Referer")
    if referer is not None:
        return Origin.SAME if referer.startswith(own + "/") else Origin.CROSS
    return Origin.UNSAID


def same_origin() -> bool:
    """Whether this request comes from a page of the inbox itself (the browser says so)."""
    return request_origin() is Origin.SAME


def cross_site() -> bool:
    """Whether a browser says this request comes from a page of another origin."""
    return request_origin() is Origin.CROSS
