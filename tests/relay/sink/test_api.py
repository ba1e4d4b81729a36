"""relay.sink.api: the inbox's JSON API served for real (InboxServer on 127.0.0.1) over mail a
real sink received by SMTP, asked with plain HTTP as a project's own end-to-end test would."""

from __future__ import annotations

import http.client
import http.server
import json
import smtplib
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from relay.sink.inbox import InboxServer
from relay.sink.server import Sink
from tests.inbox_client import InboxClient, InboxError, link_in
from tests.relay.sink.conftest import indexed
from tests.relay.sink.test_inbox import LINK, activation, send


@pytest.fixture
def api(inbox) -> InboxClient:
    return InboxClient(inbox.url)


def plain(subject: str, sender: str = "noreply@example.test", to: str = "ann@example.test",
          body: str = "Hello.") -> bytes:
    return (f"From: Q&A <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def send_many(sink: Sink, messages: list[tuple[str, str, bytes]]) -> None:
    """(sender, recipient, message) each, over one SMTP connection."""
    with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=10) as client:
        for sender, recipient, content in messages:
            client.sendmail(sender, [recipient], content)


def multipart() -> bytes:
    """Text and HTML (quoted-printable, the link longer than a line), a Cc and a PDF."""
    message = EmailMessage(policy=SMTP)
    message["From"] = "Billing <billing@example.test>"
    message["To"] = "Ann <ann@example.test>"
    message["Cc"] = "carol@example.test"
    message["Subject"] = "Your invoice"
    message["Date"] = "Sun, 06 Dec 2026 10:00:00 +0000"
    message.set_content(f"Hello Ann,\n\npay here:\n{LINK}\n", cte="quoted-printable")
    message.add_alternative(f'<p>Hello Ann, <a href="{LINK}">pay here</a>.</p>', subtype="html",
                            cte="quoted-printable")
    message.add_attachment(b"%PDF-1.4 an invoice", maintype="application", subtype="pdf",
                           filename="invoice.pdf")
    return message.as_bytes()


def status_of(inbox: InboxServer, method: str, path: str, body: bytes | None = None,
              headers: dict | None = None) -> tuple[int, dict, str]:
    """Status, headers and body of one request, whatever the status."""
    connection = http.client.HTTPConnection("127.0.0.1", inbox.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read().decode()
    finally:
        connection.close()


def test_pages_by_cursor_cover_120_messages_once_newest_first(sink, inbox, api):
    send_many(sink, [("noreply@example.test", f"user{i}@example.test", plain(f"Message {i}"))
                     for i in range(120)])
    indexed(inbox, 120)
    seen, before = [], None
    for _ in range(10):   # bounded: 3 pages expected
        page = api.messages(limit=50, before=before)
        assert (page["total"], page["unread"]) == (120, 120)
        assert page["count"] == len(page["messages"])
        seen += [m["subject"] for m in page["messages"]]
        before = page["next"]
        if before is None:
            break
    assert seen == [f"Message {i}" for i in reversed(range(120))]
    first = api.messages(limit=1)["messages"][0]
    assert first["envelope"] == {"from": "noreply@example.test", "to": ["user119@example.test"]}
    assert first["read"] is False and first["date"].endswith("+00:00")


def test_search_finds_by_sender_recipient_subject_and_body_words(sink, inbox, api):
    send_many(sink, [
        ("billing@example.test", "ann@example.test",
         plain("Your invoice", "billing@example.test", body="Please pay it.")),
        ("noreply@example.test", "bob@example.test",
         plain("Invoice reminder", to="bob@example.test", body="Still unpaid.")),
        ("noreply@example.test", "ann@example.test",
         plain("Password reset", body="Reset your password here.")),
    ])
    indexed(inbox, 3)

    def found(query: str) -> list[str]:
        answer = api.search(query)
        assert answer["query"] == query and answer["total"] == answer["count"]
        return [m["subject"] for m in answer["messages"]]

    assert found("invoice") == ["Invoice reminder", "Your invoice"]
    assert found("from:billing@example.test") == ["Your invoice"]
    assert found("to:bob@example.test") == ["Invoice reminder"]
    assert found('subject:"password reset"') == ["Password reset"]
    assert found('"reset your password"') == ["Password reset"]
    assert found("invoice -from:billing") == ["Invoice reminder"]
    assert found("unpaid") == ["Invoice reminder"]
    assert found("nothing-like-this") == []


def test_a_multipart_message_comes_whole_with_its_long_link_and_its_attachment(sink, inbox, api):
    send(sink, multipart(), sender="billing@example.test",
         recipients=("ann@example.test", "carol@example.test"))
    indexed(inbox, 1)
    [listed] = api.messages()["messages"]
    assert listed["attachments"] == 1 and listed["read"] is False

    message = api.message(listed["id"])
    assert (message["from"], message["to"], message["cc"]) == (
        "Billing <billing@example.test>", "Ann <ann@example.test>", "carol@example.test")
    assert message["subject"] == "Your invoice"
    assert message["header_date"] == "Sun, 06 Dec 2026 10:00:00 +0000"
    assert message["envelope"] == {"from": "billing@example.test",
                                   "to": ["ann@example.test", "carol@example.test"]}
    assert LINK in message["text"] and f'href="{LINK}"' in message["html"]
    assert message["links"] == [LINK]                 # whole, and once for text and HTML
    assert link_in(message, "/account/activate/") == LINK
    assert ["Subject", "Your invoice"] in message["headers"]
    [attached] = message["attachments"]
    assert (attached["filename"], attached["content_type"], attached["size"]) == (
        "invoice.pdf", "application/pdf", len(b"%PDF-1.4 an invoice"))
    status, headers, body = status_of(inbox, "GET", attached["url"])
    assert (status, body) == (200, "%PDF-1.4 an invoice")
    assert headers["Content-Disposition"] == "attachment; filename=invoice.pdf"
    assert message["read"] is True                      # reading it marks it read, as in Mailpit
    assert api.messages()["unread"] == 0


def test_raw_is_the_source_as_received_as_inert_text(sink, inbox, api):
    content = activation(html="<script>alert(1)</script>")
    send(sink, content)
    indexed(inbox, 1)
    [listed] = api.messages()["messages"]
    status, headers, body = status_of(inbox, "GET", f"/api/v1/message/{listed['id']}/raw")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert body.encode() == content.replace(b"\r\n", b"\n")
    assert api.raw(listed["id"]) == body.encode()


def test_unknown_messages_paths_and_bad_parameters_answer_json_errors(inbox):
    for method, path, expected in [
        ("GET", "/api/v1/message/no-such-message", 404),
        ("GET", "/api/v1/message/no-such-message/raw", 404),
        ("GET", "/api/v1/no-such-path", 404),
        ("POST", "/api/v1/messages", 405),
        ("GET", "/api/v1/messages?limit=many", 400),
        ("GET", "/api/v1/messages?limit=5000", 400),
        ("GET", "/api/v1/messages?before=yesterday", 400),
        ("GET", "/api/v1/wait?timeout=forever", 400),
        ("GET", "/api/v1/wait?timeout=301", 400),
        ("DELETE", "/api/v1/search", 400),
    ]:
        status, headers, body = status_of(inbox, method, path)
        assert status == expected, (method, path, body)
        assert headers["Content-Type"] == "application/json" and json.loads(body)["error"]
        assert headers["Cache-Control"] == "no-store"
    status, _, body = status_of(inbox, "DELETE", "/api/v1/messages", body=b"{not json")
    assert status == 400 and "not JSON" in json.loads(body)["error"]


def test_messages_are_marked_read_and_unread(sink, inbox, api):
    send_many(sink, [("a@example.test", "b@example.test", plain(f"Note {i}")) for i in range(3)])
    indexed(inbox, 3)
    ids = [m["id"] for m in api.messages()["messages"]]
    answer = api.json("PUT", "/messages", {"ids": ids[:2], "read": True})
    assert (answer["changed"], answer["unread"]) == (2, 1)
    assert [m["subject"] for m in api.search("is:unread")["messages"]] == ["Note 0"]
    assert api.json("PUT", "/messages", {"IDs": [ids[0]], "Read": False})["unread"] == 2
    assert api.json("PUT", "/messages", {"read": True})["unread"] == 0     # no ids: all


def test_delete_the_named_the_found_and_then_all(sink, inbox, api):
    send_many(sink, [("a@example.test", f"{who}@example.test", plain(f"For {who}", to=f"{who}@example.test"))
                     for who in ("ann", "bob", "carol", "dave")])
    indexed(inbox, 4)
    ids = {m["subject"]: m["id"] for m in api.messages()["messages"]}
    answer = api.json("DELETE", "/messages", {"ids": [ids["For ann"], "no-such-message"]})
    assert (answer["deleted"], answer["total"]) == (1, 3)
    assert sink.maildir.count() == 3                   # gone from the Maildir, not only the list
    assert api.json("DELETE", "/messages", {"ids": []})["total"] == 3     # an empty list: none
    answer = api.json("DELETE", "/search", query="to:bob@example.test")
    assert (answer["deleted"], answer["total"]) == (1, 2)
    assert api.json("DELETE", "/messages")["total"] == 0                   # no body: all
    assert sink.maildir.count() == 0


@pytest.mark.parametrize("method, body", [("DELETE", {"id": ["x"]}), ("PUT", {"ids": [], "raed": False})])
def test_a_misspelt_key_is_refused_and_touches_nothing(sink, inbox, api, method, body):
    """Without "ids" a call means every message: a misspelt "id" must not empty the inbox."""
    send(sink, activation())
    indexed(inbox, 1)
    with pytest.raises(InboxError) as refused:
        api.json(method, "/messages", body)
    assert refused.value.status == 400 and "unknown key" in str(refused.value)
    assert (api.messages()["total"], api.messages()["unread"]) == (1, 1)
    assert sink.maildir.count() == 1


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},                                # a sandboxed frame, e.g. a mail's HTML
    {"Sec-Fetch-Site": "cross-site"},
    {"Referer": "http://evil.example/page"},
])
def test_a_page_of_another_site_can_neither_delete_nor_mark(sink, inbox, api, headers):
    send(sink, activation())
    indexed(inbox, 1)
    for method, path, body in [("DELETE", "/api/v1/messages", b""),
                               ("DELETE", "/api/v1/search?query=activate", b""),
                               ("PUT", "/api/v1/messages", b'{"read": true}')]:
        status, _, answer = status_of(inbox, method, path, body=body, headers=headers)
        assert status == 403 and "another site" in json.loads(answer)["error"]
    assert (api.messages()["total"], api.messages()["unread"]) == (1, 1)
    own = {"Origin": inbox.url, "Sec-Fetch-Site": "same-origin"}
    assert status_of(inbox, "DELETE", "/api/v1/messages", headers=own)[0] == 200
    assert api.messages()["total"] == 0


def test_wait_returns_a_message_already_there(sink, inbox, api):
    send(sink, activation("Welcome, Ann"))
    started = time.monotonic()
    message = api.wait_for("to:ann@example.test subject:welcome", timeout=5)
    assert message["subject"] == "Welcome, Ann" and message["links"] == [LINK]
    assert time.monotonic() - started < 4


def test_wait_returns_the_first_matching_message_to_arrive_after_the_cursor(sink, inbox, api):
    send(sink, activation("An old activation"))
    indexed(inbox, 1)
    after = api.latest()
    found: list = []
    waiter = threading.Thread(target=lambda: found.append(
        api.wait_for("to:bob@example.test activate", timeout=20, after=after)))
    waiter.start()
    try:
        time.sleep(0.2)   # the wait is on its way before the mail is
        send(sink, activation("Not for Bob"))
        send(sink, activation("Activate, Bob"), recipients=("bob@example.test",))
    finally:
        waiter.join(timeout=30)
    assert [m["subject"] for m in found] == ["Activate, Bob"]
    assert found[0]["envelope"]["to"] == ["bob@example.test"]
    with pytest.raises(InboxError) as nothing_newer:   # a message's id works as the cursor too
        api.wait_for("activate", timeout=0.2, after=found[0]["id"])
    assert nothing_newer.value.status == 408


def test_wait_gives_408_after_its_timeout(sink, inbox, api):
    send(sink, activation("Activate your account"))
    indexed(inbox, 1)
    started = time.monotonic()
    with pytest.raises(InboxError) as refused:
        api.wait_for("activate", timeout=0.5, after=api.latest())   # only older ones match
    assert refused.value.status == 408
    assert 0.4 < time.monotonic() - started < 5


def test_link_check_says_which_links_answer(sink, inbox, api, website):
    closed = f"http://127.0.0.1:{_closed_port()}/gone"
    send(sink, plain("Links", body=f"Works: {website}/ok\nMissing: {website}/missing\nDown: {closed}\n"))
    indexed(inbox, 1)
    [listed] = api.messages()["messages"]
    checked = api.json("GET", f"/message/{listed['id']}/link-check")["links"]
    assert [(c["url"], c["status"], c["ok"]) for c in checked] == [
        (f"{website}/ok", 200, True), (f"{website}/missing", 404, False), (closed, None, False)]
    assert checked[2]["error"]                          # what went wrong, in words


def _closed_port() -> int:
    from tests.ports import free_port
    return free_port()   # nothing listens there once the probe socket closed


def test_counts_follow_every_arrival_read_and_delete(sink, inbox, api):
    send(sink, activation("Activate, Ann"))
    indexed(inbox, 1)
    assert (api.search("activate")["total"], api.messages()["unread"]) == (1, 1)
    send(sink, activation("Activate, Bob"), recipients=("bob@example.test",))
    indexed(inbox, 2)
    assert (api.search("activate")["total"], api.messages()["unread"]) == (2, 2)
    newest = api.messages()["messages"][0]["id"]
    api.message(newest)                                  # read
    assert (api.search("is:unread")["total"], api.messages()["unread"]) == (1, 1)
    api.json("DELETE", "/messages", {"ids": [newest]})
    assert (api.search("activate")["total"], api.messages()["total"]) == (1, 1)
