"""Helpers for the Q&A tests: members logged in on their own clients, and posting."""

from __future__ import annotations

import re

from tests.webapp.accounts.test_auth import activated_member, login
from tests.webapp.conftest import csrf_token, post_form


def member(app, config, name: str):
    """A new activated member named `name`, logged in on a client of their own."""
    client = app.test_client()
    email = f"{name.lower()}@example.org"
    activated_member(client, config, email=email, name=name)
    assert login(client, email=email).status_code == 302
    return client


def ask(client, title="How do I read a file line by line?", body="I tried `open()` but **how**?",
        tags="python files"):
    response = post_form(client, "/questions/ask", title=title, body=body, tags=tags)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/questions/(\d+)", response.location).group(1))


def answer(client, question_id: int, body="Use `for line in f:` on the open file.") -> int:
    path = f"/questions/{question_id}"
    response = client.post(f"{path}/answers", data={"csrf_token": csrf_token(client, path), "body": body})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"#answer-(\d+)", response.location).group(1))


def press(client, page: str, action: str, **fields):
    """Send a button's form (`action`) as shown on `page`, with the page's CSRF token."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **fields})


def write_article(client, title="Ten things about SQLite WAL mode", body="WAL lets **readers** go on."):
    response = post_form(client, "/articles/write", title=title, body=body)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/articles/(\d+)", response.location).group(1))


def comment(client, article_id: int, body="Thanks, this helped.") -> int:
    path = f"/articles/{article_id}"
    response = client.post(f"{path}/comments", data={"csrf_token": csrf_token(client, path), "body": body})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"#comment-(\d+)", response.location).group(1))
