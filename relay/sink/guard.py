"""What keeps the inbox to its own browser tab: loopback Host names only, same-origin POSTs, and
the Content-Security-Policy of each kind of response.

A page of the inbox runs only its own script file (static/inbox/live.js) and talks only to its
own origin (the live stream); a message's HTML is sandboxed without scripts; source and
attachments can never act as documents. A Host that is not a loopback name (DNS rebinding)
gets a 400, and a POST that does not come from the inbox's own pages is refused by its route.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

from relay.sink.origin import same_origin

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

# The inbox's own pages: its script file and stylesheet, its own live stream, the mail frame.
PAGE_CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
            "img-src 'self' data:; frame-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")
# A message's HTML: no script, no form, no plugin, in an opaque origin even when opened
# directly; images and styles may load (what the mail would look like); links open new tabs.
MAIL_CSP = ("default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline' http: https:; "
            "font-src http: https: data:; form-action 'none'; frame-ancestors 'self'; "
            "sandbox allow-popups allow-popups-to-escape-sandbox")
# Source and attachments: never a document that can do anything.
INERT_CSP = "default-src 'none'; sandbox"


def guard(app: Flask, listen_host: str) -> None:
    """Loopback names only (a DNS rebinding page gets a 400), and headers that keep mail inert."""
    hosts = LOOPBACK_NAMES | ({listen_host.lower()} - {"", "0.0.0.0", "::"})

    @app.before_request
    def refuse_other_hosts():
        if urlsplit(f"//{request.host}").hostname not in hosts:
            return Response("This inbox answers only at a loopback address such as "
                            "http://127.0.0.1.\n", 400, mimetype="text/plain")
        return None

    @app.after_request
    def inert_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers["X-Content-Type-Options"] = "nosniff"
        # a cleared message must not come back; the stylesheet and script may, once revalidated
        static = request.path.startswith("/static/")
        response.headers["Cache-Control"] = "no-cache" if static else "no-store"
        return response


def refused_post() -> Response | None:
    """A 403 for a POST that does not come from the inbox's own pages; None when it does."""
    if same_origin():
        return None
    return Response("Do this from the inbox's own page.\n", 403, mimetype="text/plain")


def local_path(target: str | None, fallback: str = "/") -> str:
    """`target` when it is a path on this inbox (where to go back after a POST), else fallback."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    return target


def inert_download(data: bytes, filename: str) -> Response:
    """An attachment as a download that can never act as a document."""
    response = Response(data, mimetype="application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Content-Security-Policy"] = INERT_CSP
    return response
