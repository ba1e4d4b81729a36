"""relay.sink.index_reading: a big catch-up is read by worker processes, and the index it builds
is the one a single process builds (every message once, in received order)."""

from __future__ import annotations

import logging
import os

import pytest

from relay.sink import index_reading
from relay.sink.index import MessageIndex
from relay.sink.maildir import Maildir
from tests.relay.sink.test_index import stored, subjects


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: the rebuild reads in one process")
def test_a_rebuild_read_by_worker_processes_lists_every_message_once_in_received_order(
        tmp_path, monkeypatch, caplog):
    box = Maildir(tmp_path / "md")
    stored(box, 40)
    monkeypatch.setattr(index_reading, "PARALLEL_FROM", 10)   # 40 messages count as many
    monkeypatch.setattr("relay.sink.index.BATCH", 7)          # several batches, one cut short
    caplog.set_level(logging.WARNING, logger="relay.sink.index_reading")
    with MessageIndex(box) as index:
        assert "worker processes failed" not in caplog.text   # the workers did read it
        page = index.page(limit=100)
        assert subjects(page) == [f"Message {i}" for i in reversed(range(40))]
        assert [e.id for e in page.entries] == list(range(40, 0, -1))
        assert subjects(index.page("subject:\"message 17\"")) == ["Message 17"]
