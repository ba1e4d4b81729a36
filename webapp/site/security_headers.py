"""The HTTP security headers of every response (Flask-Talisman).

A Content-Security-Policy that allows scripts, styles and images from the site
itself only (no inline script or style: the pages have none) and no framing;
X-Frame-Options DENY for older browsers; Referrer-Policy same-origin, so a page
never tells another site its address (Flask-WTF's CSRF check on https needs the
Referer of our own pages); X-Content-Type-Options nosniff; and HSTS when [webapp]
base_url is https. Talisman redirects nothing and leaves the cookie flags to create_app().

A view whose address carries a secret (a token in the path) is marked @no_referrer: its
responses, error pages included, say Referrer-Policy no-referrer instead, so a link followed
from them tells no one, the site's own access log included, where it came from. A form on
such a page cannot pass Flask-WTF's https Referer check: post it from a page without the token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, request
from flask_talisman import DENY, Talisman

View = TypeVar("View", bound=Callable)

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HSTS_MAX_AGE = 365 * 86400
NO_REFERRER = "no-referrer"


def no_referrer(view: View) -> View:
    """Mark `view`: its responses send Referrer-Policy: no-referrer (the rest keep same-origin)."""
    view.referrer_policy = NO_REFERRER
    return view


def add_security_headers(app: Flask, *, https: bool) -> None:
    secure_cookies = app.config["SESSION_COOKIE_SECURE"]

    # Registered before Talisman's, so it runs after it (Flask runs them last first).
    @app.after_request
    def view_referrer_policy(response: Response) -> Response:
        policy = getattr(app.view_functions.get(request.endpoint), "referrer_policy", None)
        if policy:
            response.headers["Referrer-Policy"] = policy
        return response

    # One Talisman per app: it keeps its app and options on itself.
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,  # the reverse proxy's job; a redirect here would loop behind it
        frame_options=DENY,
        content_security_policy=CONTENT_SECURITY_POLICY,
        referrer_policy="same-origin",
        session_cookie_secure=secure_cookies,
        # Talisman sends HSTS only on requests that look secure, which a TLS-terminating
        # proxy hides; the public address is what counts, so it is added below instead.
        strict_transport_security=False,
    )
    if https:
        @app.after_request
        def strict_transport_security(response):
            response.headers["Strict-Transport-Security"] = f"max-age={HSTS_MAX_AGE}"
            return response
