"""The HTTP security headers of every response (Flask-Talisman).

A Content-Security-Policy that allows scripts, styles and images from the site
itself only (no inline script or style: the pages have none) and no framing;
X-Frame-Options DENY for older browsers; Referrer-Policy same-origin, so a page
never tells another site its address (Flask-WTF's CSRF check on https needs the
Referer of our own pages); X-Content-Type-Options nosniff; and HSTS when [webapp]
base_url is https. Talisman redirects nothing and leaves the cookie flags to create_app().
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import DENY, Talisman

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


def add_security_headers(app: Flask, *, https: bool) -> None:
    secure_cookies = app.config["SESSION_COOKIE_SECURE"]
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
