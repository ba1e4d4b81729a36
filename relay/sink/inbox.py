"""The sink's web inbox: a small Flask app that lists, shows and clears the sink's Maildir.

`relay inbox` serves [sink] maildir on [sink] host, port [sink] web_port (`make run` starts
it): the newest LIST_CAP messages first; a message's text part (links made clickable), its
HTML part, header, source and attachments; a POST that clears the inbox. It reads the Maildir
on every request, so what the sink stored survives restarts of either. It trusts no message:
everything is shown escaped; the HTML part is served only from its own URL under a CSP that
sandboxes it without scripts, inside an <iframe sandbox>; source and attachments are never
served as HTML. It answers only to a loopback Host (a rebound DNS name gets nothing) and
clears only on a same-origin POST, so another site open in the browser cannot empty it.
"""

from __future__ import annotations

import re
import socket
import threading
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, abort, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.serving import WSGIRequestHandler, make_server

from relay.sink.api import api
from relay.sink.index import MessageIndex
from relay.sink.maildir import Maildir, StoredMessage
from relay.sink.message_view import attachment, view
from relay.sink.origin import same_origin
from settings.units import format_size

LIST_CAP = 200               # a big Maildir still makes a small page
SOURCE_CAP = 1_000_000       # bytes of source shown in the page; /raw has all of it
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
TABS = ("text", "html", "headers", "source")

# The inbox's own pages: no script at all, only its stylesheet and the sandboxed mail frame.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# A message's HTML: no script, no form, no plugin, in an opaque origin even when opened
# directly; images and styles may load (what the mail would look like); links open new tabs.
MAIL_CSP = ("default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline' http: https:; "
            "font-src http: https: data:; form-action 'none'; frame-ancestors 'self'; "
            "sandbox allow-popups allow-popups-to-escape-sandbox")
# Source and attachments: never a document that can do anything.
INERT_CSP = "default-src 'none'; sandbox"

_DOCTYPE = re.compile(r"\A\s*<!doctype[^>]*>", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"'\x00-\x1f]+")


def create_inbox(maildir: str | Path, listen_host: str = "127.0.0.1", cap: int = LIST_CAP,
                 index: MessageIndex | None = None) -> Flask:
    """The inbox app over the Maildir at `maildir` (made if missing, as the sink would) and its
    index; an index nobody watches (the test client's) is synced before each request."""
    app = Flask(__name__, static_folder="static/inbox", static_url_path="/static")
    box = Maildir(maildir)
    index = index or MessageIndex(box)
    app.extensions["inbox_index"] = index

    @app.before_request
    def catch_up():
        if not index.watching:
            index.sync()

    hosts = LOOPBACK_NAMES | ({listen_host.lower()} - {"", "0.0.0.0", "::"})
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(received=_received, size=format_size, linked=linked_text)
    _guard(app, hosts)
    app.register_blueprint(api)
    _list_routes(app, index, cap)
    _message_routes(app, box)
    return app


def _guard(app: Flask, hosts: frozenset[str]) -> None:
    """Loopback names only (a DNS rebinding page gets a 400), and headers that keep mail inert."""

    @app.before_request
    def refuse_other_hosts():
        if urlsplit(f"//{request.host}").hostname not in hosts:
            return Response("This inbox answers only at a loopback address such as "
                            "http://127.0.0.1.\n", 400, mimetype="text/plain")
        return None

    @app.after_request
    def guard(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"  # a cleared message must not come back
        return response


def _list_routes(app: Flask, index: MessageIndex, cap: int) -> None:
    """The list of the newest `cap` messages, and clearing them all."""

    @app.get("/", endpoint="index")
    def listing():
        page = index.page(limit=cap)
        return render_template("inbox/list.html", entries=page.entries, total=page.total, cap=cap)

    @app.post("/clear")
    def clear():
        if not same_origin():
            return Response("Clear the inbox from its own page.\n", 403, mimetype="text/plain")
        index.clear()
        return redirect(url_for("index"), 303)


def _message_routes(app: Flask, box: Maildir) -> None:
    """One message: its tabs, its HTML body (sandboxed), its source and its attachments."""

    @app.get("/messages/<name>")
    @app.get("/messages/<name>/<any(text, html, headers, source):tab>")
    def message(name: str, tab: str | None = None):
        stored, received = _stored(box, name)
        shown = view(stored)
        tab = tab or ("text" if shown.text is not None else "html" if shown.html is not None
                      else "headers")
        return render_template(
            "inbox/message.html", name=name, stored=stored, shown=shown, tab=tab, tabs=TABS,
            received=received, source=stored.content[:SOURCE_CAP].decode("utf-8", "replace"),
            source_cut=len(stored.content) > SOURCE_CAP)

    @app.get("/messages/<name>/html/body")
    def html_body(name: str):
        html = view(_stored(box, name)[0]).html
        if html is None:
            abort(404)
        response = Response(with_links_in_new_tabs(html), mimetype="text/html")
        response.headers["Content-Security-Policy"] = MAIL_CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/messages/<name>/raw")
    def raw(name: str):
        response = Response(_stored(box, name)[0].content, mimetype="text/plain")
        response.headers["Content-Security-Policy"] = INERT_CSP
        return response

    @app.get("/messages/<name>/attachments/<int:index>")
    def download(name: str, index: int):
        found = attachment(_stored(box, name)[0], index)
        if found is None:
            abort(404)
        described, data = found
        response = Response(data, mimetype="application/octet-stream")
        response.headers.set("Content-Disposition", "attachment",
                             filename=described.filename or f"attachment-{index}")
        response.headers["Content-Security-Policy"] = INERT_CSP
        return response


def linked_text(text: str) -> Markup:
    """Text as markup with every http(s) URL a link that opens in a new tab; the rest escaped."""
    out, position = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)]}")  # the sentence's punctuation, not the link's
        out.append(escape(text[position:match.start()]))
        out.append(Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(url))
        position = match.start() + len(url)
    out.append(escape(text[position:]))
    return Markup("").join(out)


def with_links_in_new_tabs(html: str) -> str:
    """The message's HTML with a <base target="_blank"> first (after a doctype, which must lead)."""
    doctype = _DOCTYPE.match(html)
    at = doctype.end() if doctype else 0
    return html[:at] + '<base target="_blank">' + html[at:]


def _stored(box: Maildir, name: str) -> tuple[StoredMessage, int]:
    """The message called `name` and when it was received; 404 when there is none."""
    path = box.find(name)
    if path is None:
        abort(404)
    try:
        return Maildir.read(path), path.stat().st_mtime_ns
    except FileNotFoundError:
        abort(404)  # cleared meanwhile


def _received(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass  # a line per request would bury the site's and the relay's output in `make run`


class InboxServer:
    """The inbox served for real (werkzeug, a thread per request); a context manager that
    always stops the server it started."""

    def __init__(self, maildir: str | Path, host: str = "127.0.0.1", port: int = 0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # Bound here: werkzeug would exit the process on a taken port instead of raising.
        listener = socket.create_server((host, port), family=family)
        self.index = MessageIndex(Maildir(maildir))
        try:
            self.port = listener.getsockname()[1]
            app = create_inbox(maildir, listen_host=host, index=self.index)
            self.server = make_server(host, self.port, app,
                                      threaded=True, request_handler=_QuietHandler,
                                      fd=listener.fileno())
        finally:
            listener.close()  # the server holds its own copy
        self.host = host
        self.thread = threading.Thread(target=self.server.serve_forever, name="inbox-server")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> InboxServer:
        self.index.start()   # caught up with the Maildir before the first page is served
        self.thread.start()
        return self

    def stop(self) -> None:
        self.index.stop()    # first: it wakes the live streams, so they end
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=10)
        self.server.server_close()

    def __enter__(self) -> InboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
