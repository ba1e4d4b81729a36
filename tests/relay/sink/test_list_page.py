"""relay.sink.list_page through Flask's test client over a real Maildir: search, pages, and the
POSTs that change many messages, refused unless they come from the inbox's own pages."""

from __future__ import annotations

import re

import pytest

from relay.sink.inbox import create_inbox

OWN = {"Origin": "http://localhost"}
ELSEWHERE = {"Origin": "http://evil.example"}


@pytest.fixture
def client(sink):
    for who in ("alice", "bob", "bob"):
        sink.maildir.store(f"{who}@example.test", ["c@example.test"],
                           f"From: {who}@example.test\nSubject: hi from {who}\n\nx\n".encode())
    return create_inbox(sink.maildir.root).test_client()


def names(client, query: str = "") -> list[str]:
    page = client.get("/", query_string={"q": query} if query else None).get_data(as_text=True)
    return re.findall(r'name="id" value="([^"]+)"', page)


def test_a_search_shows_what_it_found_and_its_count(client):
    page = client.get("/?q=from:bob").get_data(as_text=True)
    assert "2 found" in page and page.count("hi from bob</a>") == 2 and "hi from alice" not in page
    assert 'value="from:bob"' in page and "Delete all 2 found" in page
    assert "Nothing matches <q>from:carol</q>" in client.get("/?q=from:carol").get_data(as_text=True)


def test_a_cursor_that_is_not_a_number_shows_the_first_page(client):
    assert len(names(client)) == 3
    page = client.get("/?before=1%20OR%201=1").get_data(as_text=True)
    assert page.count('name="id"') == 3 and 'class="newest"' not in page


def test_selected_messages_are_marked_and_deleted_then_the_page_comes_back(client, sink):
    first, *_ = names(client)
    response = client.post("/selected", data={"id": first, "action": "read", "next": "/?q=hi"},
                           headers=OWN)
    assert response.status_code == 303 and response.headers["Location"] == "/?q=hi"
    assert "2 unread" in client.get("/").get_data(as_text=True)
    response = client.post("/selected", data={"id": first, "action": "delete",
                                              "next": "//evil.example/"}, headers=OWN)
    assert response.headers["Location"] == "/"   # never back to another site
    assert sink.maildir.count() == 2 and first not in names(client)


def test_posts_from_another_site_change_nothing(client, sink):
    every = names(client)
    assert client.post("/selected", data={"id": every, "action": "delete"},
                       headers=ELSEWHERE).status_code == 403
    assert client.post("/selected", data={"id": every, "action": "read"}).status_code == 403
    assert client.post("/delete-found", data={"q": "bob"}, headers=ELSEWHERE).status_code == 403
    assert client.post("/selected", data={"id": every, "action": "shred"},
                       headers=OWN).status_code == 400
    assert sink.maildir.count() == 3 and "3 unread" in client.get("/").get_data(as_text=True)


def test_delete_all_found_asks_first_then_deletes_only_the_matches(client, sink):
    confirm = client.get("/delete-found?q=from:bob").get_data(as_text=True)
    assert "Delete 2 messages?" in confirm and sink.maildir.count() == 3
    assert client.get("/delete-found?q=").status_code == 303   # no search: that is Clear inbox
    response = client.post("/delete-found", data={"q": "from:bob"}, headers=OWN)
    assert response.status_code == 303 and response.headers["Location"] == "/?q=from:bob"
    assert [m.sender for m in sink.maildir.messages()] == ["alice@example.test"]
