"""The inbox served for real, for the browser tests of its pages."""

from __future__ import annotations

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
