"""The sink's web inbox: the Flask app over the sink's Maildir and its index, and the server
that runs it.

`relay inbox` serves [sink] maildir on [sink] host, port [sink] web_port (`make run` starts
it). The pages: the list, searched and paged, with live updates (relay/sink/list_page.py,
static/inbox/live.js over /api/v1/events); one message (relay/sink/message_page.py); the JSON
API (relay/sink/api.py). The Maildir is the truth and the index beside it (relay/sink/index.py)
is rebuilt from it, so what the sink stored survives restarts of either. It trusts no message:
everything is shown escaped, the HTML part only sandboxed; it answers only to a loopback Host
and changes anything only on a same-origin POST (relay/sink/guard.py).
"""

from __future__ import annotations

import socket
import threading
from datetime import datetime
from pathlib import Path

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from relay.sink.actions import register_actions
from relay.sink.api import api
from relay.sink.guard import guard
from relay.sink.index import MessageIndex
from relay.sink.list_page import PAGE_SIZE, register_list_pages
from relay.sink.maildir import Maildir
from relay.sink.message_page import linked_text, register_message_pages
from settings import Config
from settings.units import format_size

__all__ = ["InboxServer", "create_inbox", "PAGE_SIZE"]


def create_inbox(maildir: str | Path, listen_host: str = "127.0.0.1", page_size: int = PAGE_SIZE,
                 index: MessageIndex | None = None, config: Config | None = None) -> Flask:
    """The inbox app over the Maildir at `maildir` (made if missing, as the sink would) and its
    index; an index nobody watches (the test client's) is synced before each request."""
    app = Flask(__name__, static_folder="static/inbox", static_url_path="/static")
    index = index or MessageIndex(Maildir(maildir))
    app.extensions["inbox_index"] = index

    @app.before_request
    def catch_up():
        if not index.watching:
            index.sync()

    @app.context_processor
    def top_bar():
        # every page shows the unread count and follows the live stream from where it stands
        return {"unread": index.unread_count(), "last_id": index.last_id()}

    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(received=_received, size=format_size, linked=linked_text,
                                 thousands="{:,}".format)
    guard(app, listen_host)
    app.register_blueprint(api)
    register_actions(app, config)   # release and upload; off without a config
    register_list_pages(app, index, page_size)
    register_message_pages(app, index)
    return app


def _received(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass  # a line per request would bury the site's and the relay's output in `make run`


class InboxServer:
    """The inbox served for real (werkzeug, a thread per request); a context manager that
    always stops the server it started."""

    def __init__(self, maildir: str | Path, host: str = "127.0.0.1", port: int = 0,
                 config: Config | None = None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.index = MessageIndex(Maildir(maildir))   # before the port: nothing to close on failure
        # Bound here: werkzeug would exit the process on a taken port instead of raising.
        listener = socket.create_server((host, port), family=family)
        try:
            self.port = listener.getsockname()[1]
            app = create_inbox(maildir, listen_host=host, index=self.index, config=config)
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
