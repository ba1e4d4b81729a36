"""relay.sink.message_page through Flask's test client over a real Maildir: opening reads, the
envelope, and the POSTs on one message, refused unless they come from the inbox's own pages."""

from __future__ import annotations

import re
from html import unescape

import pytest

from relay.sink.inbox import create_inbox
from tests.relay.sink.test_inbox import activation, only_name, send

OWN = {"Origin": "http://localhost"}


@pytest.fixture
def client(sink):
    return create_inbox(sink.maildir.root).test_client()


def test_opening_a_message_marks_it_read(sink, client):
    send(sink, activation())
    assert "1 unread" in client.get("/").get_data(as_text=True)
    client.get(f"/messages/{only_name(sink)}")
    list_page = client.get("/").get_data(as_text=True)
    assert "0 unread" in list_page and 'class="read"' in list_page


def test_a_page_runs_only_its_own_script_file(sink, client):
    send(sink, activation())
    for path in ("/", f"/messages/{only_name(sink)}"):
        csp = client.get(path).headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "unsafe" not in csp and "connect-src 'self'" in csp
    with client.get("/static/live.js") as script:
        assert script.mimetype == "text/javascript" and b"innerHTML" not in script.data
        assert script.headers["Cache-Control"] == "no-cache"   # kept, asked again each time
    assert client.get("/").headers["Cache-Control"] == "no-store"   # a page never kept


def test_a_recipient_only_in_the_envelope_is_called_a_bcc(sink, client):
    send(sink, activation(), recipients=("ann@example.test", "Audit@Example.test"))
    page = client.get(f"/messages/{only_name(sink)}").get_data(as_text=True)
    assert page.count("not in To or Cc") == 1
    assert "&lt;Audit@Example.test&gt; <em" in page


def test_posts_on_a_message_from_another_site_change_nothing(sink, client):
    send(sink, activation())
    name = only_name(sink)
    client.get(f"/messages/{name}")
    for action in ("delete", "unread", "links"):
        assert client.post(f"/messages/{name}/{action}",
                           headers={"Origin": "null"}).status_code == 403, action
    assert sink.maildir.count() == 1 and "0 unread" in client.get("/").get_data(as_text=True)
    assert client.post(f"/messages/{name}/unread", headers=OWN).status_code == 303
    assert "1 unread" in client.get("/").get_data(as_text=True)
    assert client.post(f"/messages/{name}/delete", headers=OWN).status_code == 303
    assert sink.maildir.count() == 0


def test_newer_and_older_walk_the_inbox_one_message_at_a_time(sink, client):
    for subject in ("first", "second", "third"):
        send(sink, f"Subject: {subject}\r\n\r\nx\r\n".encode())
    path = re.search(r'href="(/messages/[^"]+)"', client.get("/").get_data(as_text=True))[1]
    seen = []
    for _ in range(4):
        page = client.get(path).get_data(as_text=True)
        seen.append(re.search(r"<h1>([^<]+)</h1>", page)[1])
        older = re.search(r'class="older" href="([^"]+)"', page)
        if older is None:
            break
        path = older[1]
    assert seen == ["third", "second", "first"]
    assert 'class="newer"' in page and 'class="older"' not in page


def test_a_message_opened_from_a_search_walks_and_goes_back_to_that_search(sink, client):
    for subject in ("receipt 1", "news", "receipt 2"):
        send(sink, f"Subject: {subject}\r\n\r\nx\r\n".encode())
    results = client.get("/?q=receipt").get_data(as_text=True)
    first = unescape(re.search(r'href="(/messages/[^"]+)"', results)[1])
    assert first.endswith("?q=receipt")
    page = client.get(first).get_data(as_text=True)
    assert "<h1>receipt 2</h1>" in page and "← Search results" in page
    older = unescape(re.search(r'class="older" href="([^"]+)"', page)[1])
    assert "<h1>receipt 1</h1>" in client.get(older).get_data(as_text=True)   # past "news"
    name = first.split("/")[2].split("?")[0]
    response = client.post(f"/messages/{name}/delete", data={"next": "/?q=receipt"}, headers=OWN)
    assert response.headers["Location"] == "/?q=receipt"
