"""The inbox served for real, and a website for a message's links to point at."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from relay.sink.inbox import InboxServer
from tests.relay.relay_helpers import wait_until


@pytest.fixture
def inbox(sink):
    """The inbox of the test's sink, served for real on 127.0.0.1; stopped after the test."""
    with InboxServer(sink.maildir.root) as server:
        yield server


def indexed(inbox: InboxServer, total: int) -> None:
    """Until the inbox's index has caught up with the Maildir (it follows new/ by inotify)."""
    wait_until(lambda: inbox.index.page(limit=0).total == total, timeout=5)


class _Pages(BaseHTTPRequestHandler):
    """/ok answers 200, anything else 404."""

    def do_HEAD(self):
        self.send_response(200 if self.path == "/ok" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD

    def log_message(self, *args):
        pass


@pytest.fixture
def website():
    """A tiny real web server on 127.0.0.1 for the links to point at; stopped after the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, name="links-website")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
