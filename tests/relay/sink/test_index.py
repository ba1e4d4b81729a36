"""relay.sink.index: the inbox's SQLite index beside a real Maildir, fed by a real sink over SMTP:
rebuilt from the Maildir, kept current while it runs, searched, paged, waited on."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time

import pytest

from relay.sink.inbox import InboxServer
from relay.sink.index import INDEX_NAME, MessageIndex
from relay.sink.maildir import Maildir
from tests.relay.relay_helpers import wait_until
from tests.relay.sink.test_inbox import activation, send


def message(subject: str, body: str = "Hello.", sender: str = "noreply@example.test",
            to: str = "ann@example.test", extra: str = "") -> bytes:
    return (f"From: Q&A <{sender}>\nTo: {to}\nSubject: {subject}\n{extra}"
            f"Content-Type: text/plain; charset=utf-8\n\n{body}\n").encode()


def stored(box: Maildir, n: int, **kwargs) -> list[str]:
    """n messages stored one second apart (oldest first), their names."""
    names = []
    for i in range(n):
        path = box.store("noreply@example.test", [f"user{i}@example.test"],
                         message(f"Message {i}", **kwargs))
        os.utime(path, ns=((1_000 + i) * 10**9,) * 2)
        names.append(path.name)
    return names


def subjects(page) -> list[str]:
    return [entry.subject for entry in page.entries]


def test_an_index_is_built_from_the_maildir_and_kept_across_restarts(tmp_path):
    box = Maildir(tmp_path / "md")
    names = stored(box, 3)
    with MessageIndex(box) as index:
        assert subjects(index.page()) == ["Message 2", "Message 1", "Message 0"]
        index.mark_read([names[0]])
    assert (box.root / INDEX_NAME).is_file()
    with MessageIndex(box) as index:   # a restart: read state kept, nothing indexed twice
        page = index.page()
        assert page.total == 3 and [e.read for e in page.entries] == [False, False, True]


def test_a_lost_or_damaged_index_is_rebuilt_from_the_maildir(tmp_path):
    box = Maildir(tmp_path / "md")
    stored(box, 2)
    (box.root / INDEX_NAME).write_bytes(b"this is not an SQLite database" * 100)
    with MessageIndex(box) as index:
        assert subjects(index.page()) == ["Message 1", "Message 0"]
    (box.root / INDEX_NAME).unlink()
    with MessageIndex(box) as index:
        assert index.page().total == 2


def test_what_changed_while_no_inbox_ran_is_caught_up_at_start(tmp_path):
    box = Maildir(tmp_path / "md")
    names = stored(box, 3)
    with MessageIndex(box):
        pass
    (box.root / "new" / names[1]).unlink()
    box.store("a@example.test", ["b@example.test"], message("Arrived while stopped"))
    with MessageIndex(box) as index:
        assert subjects(index.page()) == ["Arrived while stopped", "Message 2", "Message 0"]


def test_a_message_the_sink_receives_is_indexed_and_a_removed_one_forgotten(tmp_path, sink):
    with MessageIndex(sink.maildir) as index:
        send(sink, activation("Activate your account"))
        wait_until(lambda: index.page().total == 1, timeout=5)
        [entry] = index.page().entries
        assert (entry.subject, entry.envelope_to) == ("Activate your account", ("ann@example.test",))
        assert "open this link" in entry.snippet
        sink.maildir.clear()
        wait_until(lambda: index.page().total == 0, timeout=5)


def test_keyset_pages_cover_every_message_once_newest_first(tmp_path):
    box = Maildir(tmp_path / "md")
    stored(box, 120)
    with MessageIndex(box) as index:
        seen, before = [], None
        for _ in range(10):   # bounded: 3 pages expected
            page = index.page(limit=50, before=before)
            assert page.total == 120
            seen += subjects(page)
            before = page.next_cursor
            if before is None:
                break
    assert seen == [f"Message {i}" for i in reversed(range(120))]


@pytest.mark.parametrize("query, expected", [
    ("invoice", ["Invoice reminder", "Your invoice"]),             # newest first
    ("invo", ["Invoice reminder", "Your invoice"]),                # the start of a word
    ('"reset your password"', ["Password reset"]),
    ("from:billing@example.test", ["Your invoice"]),
    ("to:bob@example.test", ["Invoice reminder"]),
    ("to:carol@example.test", ["Password reset"]),               # a Cc counts as a recipient
    ('subject:"invoice reminder"', ["Invoice reminder"]),
    ("invoice -from:billing", ["Invoice reminder"]),
    ("invoice !reminder", ["Your invoice"]),
    ("-invoice", ["Password reset"]),
    ("has:attachment", ["Your invoice"]),
    ("café", ["Password reset"]),
    ("cafe", ["Password reset"]),                                 # accents do not matter
    ("*invoice) NOT", []),                                         # FTS5 syntax is only text
    ("*invoice)", ["Invoice reminder", "Your invoice"]),
    ("nothing-like-this", []),
])
def test_search_finds_by_word_phrase_sender_recipient_and_subject(tmp_path, query, expected):
    box = Maildir(tmp_path / "md")
    attached = ('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
                'Content-Type: text/plain\n\nPlease pay your invoice.\n--b\nContent-Type: '
                'application/pdf\nContent-Disposition: attachment; filename="i.pdf"\n\nJVBER\n--b--\n')
    box.store("billing@example.test", ["ann@example.test"],
              b"From: billing@example.test\nTo: ann@example.test\nSubject: Your invoice\n"
              + attached.encode())
    box.store("noreply@example.test", ["bob@example.test"],
              message("Invoice reminder", "Your invoice is late.", to="bob@example.test"))
    box.store("noreply@example.test", ["ann@example.test", "carol@example.test"],
              message("Password reset", "Reset your password at the café.",
                      extra="Cc: carol@example.test\n"))
    with MessageIndex(box) as index:
        assert subjects(index.page(query)) == expected


def test_read_and_unread_are_searchable(tmp_path):
    box = Maildir(tmp_path / "md")
    names = stored(box, 3)
    with MessageIndex(box) as index:
        index.mark_read(names[:2])
        assert subjects(index.page("is:unread")) == ["Message 2"]
        assert subjects(index.page("is:read")) == ["Message 1", "Message 0"]
        index.mark_read([names[0]], read=False)
        assert index.unread_count() == 2


def test_delete_removes_the_file_and_the_entry(tmp_path):
    box = Maildir(tmp_path / "md")
    names = stored(box, 3)
    with MessageIndex(box) as index:
        assert index.delete([names[1], "no-such-message"]) == 1
        assert subjects(index.page()) == ["Message 2", "Message 0"]
        assert not (box.root / "new" / names[1]).exists()
        assert index.delete(index.names("message 0")) == 1
        assert box.count() == 1


def test_wait_returns_a_message_already_there_or_the_next_to_arrive(tmp_path, sink):
    with MessageIndex(sink.maildir) as index:
        send(sink, activation("Welcome"))
        assert index.wait_for("welcome", timeout=5).subject == "Welcome"
        after = index.last_id()
        found = []
        waiter = threading.Thread(target=lambda: found.append(index.wait_for(
            "to:bob@example.test", timeout=10, after=after)))
        waiter.start()
        send(sink, activation("Not for Bob"))
        send(sink, activation("For Bob"), recipients=("bob@example.test",))
        waiter.join(timeout=15)
        assert [entry.subject for entry in found] == ["For Bob"]


def test_wait_gives_up_after_its_timeout(tmp_path):
    with MessageIndex(Maildir(tmp_path / "md")) as index:
        started = time.monotonic()
        assert index.wait_for("never", timeout=0.3) is None
        assert 0.25 < time.monotonic() - started < 5


def next_event(stream) -> dict[str, str]:
    """The next event of a server-sent event stream, its fields by name (comments skipped)."""
    fields: dict[str, str] = {}
    for _ in range(100):
        line = stream.readline().decode().rstrip("\n")
        if not line:
            if fields:
                return fields
            continue
        name, _, value = line.partition(": ")
        if name:
            fields[name] = value
    raise AssertionError("no event in 100 lines")


def test_the_event_stream_tells_of_each_new_message_and_of_deletions(tmp_path, sink):
    with InboxServer(sink.maildir.root) as inbox:
        connection = http.client.HTTPConnection("127.0.0.1", inbox.port, timeout=10)
        try:
            connection.request("GET", "/api/v1/events")
            stream = connection.getresponse()
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert next_event(stream) == {"retry": "1000"}
            send(sink, activation("Live one"))
            arrived = next_event(stream)
            assert arrived["event"] == "new" and json.loads(arrived["data"])["subject"] == "Live one"
            inbox.index.delete(inbox.index.names(""))
            changed = next_event(stream)
            assert changed["event"] == "changed"
            assert json.loads(changed["data"]) == {"total": 0, "unread": 0}
        finally:
            connection.close()


def test_the_event_stream_sends_what_arrived_after_the_page_was_drawn_and_before_it_connected(
        tmp_path, sink):
    with InboxServer(sink.maildir.root) as inbox:
        page_drawn_at = inbox.index.last_id()
        for i in range(150):   # more than one batch of the stream's reads
            sink.maildir.store("a@example.test", ["b@example.test"], message(f"Early {i}"))
        wait_until(lambda: inbox.index.page().total == 150, timeout=10)
        connection = http.client.HTTPConnection("127.0.0.1", inbox.port, timeout=10)
        try:
            connection.request("GET", f"/api/v1/events?after={page_drawn_at}")
            stream = connection.getresponse()
            assert next_event(stream) == {"retry": "1000"}
            subjects = [json.loads(next_event(stream)["data"])["subject"] for _ in range(150)]
            assert subjects == [f"Early {i}" for i in range(150)]
        finally:
            connection.close()
