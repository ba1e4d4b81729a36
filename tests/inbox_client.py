"""A small client of the sink's inbox API (relay/sink/api*.py) for tests: what a project's own
end-to-end test says to a mail catcher ("wait for the activation mail to alice, give me its
link"). Plain urllib, a timeout on every call."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request


class InboxError(AssertionError):
    """The inbox answered with an error (status and its {"error"} text)."""

    def __init__(self, status: int, text: str):
        super().__init__(f"inbox answered {status}: {text}")
        self.status = status


class InboxClient:
    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict | None = None,
             http_timeout: float | None = None, **params) -> tuple[int, bytes]:
        """Status and body of one API call; InboxError for a 4xx or 5xx."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.base_url}/api/v1{path}" + (f"?{query}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=http_timeout or self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            raise InboxError(e.code, e.read().decode("utf-8", "replace")) from None

    def json(self, method: str, path: str, body: dict | None = None, **params) -> dict:
        return json.loads(self.call(method, path, body, **params)[1])

    def messages(self, limit: int = 50, before: int | None = None) -> dict:
        return self.json("GET", "/messages", limit=limit, before=before)

    def search(self, query: str, limit: int = 50, before: int | None = None) -> dict:
        return self.json("GET", "/search", query=query, limit=limit, before=before)

    def message(self, message_id: str) -> dict:
        return self.json("GET", f"/message/{urllib.parse.quote(message_id)}")

    def raw(self, message_id: str) -> bytes:
        return self.call("GET", f"/message/{urllib.parse.quote(message_id)}/raw")[1]

    def wait_ready(self, timeout: float = 30.0) -> InboxClient:
        """Until the inbox answers (a starting `relay inbox` catches up with its Maildir first)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.messages(limit=0)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def latest(self) -> int:
        """The cursor of the newest message now: pass it as `after` to wait for a later one."""
        return self.messages(limit=0)["latest"]

    def wait_for(self, query: str, timeout: float = 10.0, after: int | str | None = None) -> dict:
        """The newest message matching `query` (after the cursor `after`), already there or
        the first to arrive within `timeout` seconds; InboxError 408 when none came."""
        return json.loads(self.call("GET", "/wait", http_timeout=timeout + 10, query=query,
                                    timeout=timeout, after=after)[1])


def link_in(message: dict, containing: str = "") -> str:
    """The first link of the message (text or HTML) with `containing` in it."""
    found = [url for url in message["links"] if containing in url]
    if not found:
        raise AssertionError(f"no link with {containing!r} in {message['links']}")
    return found[0]
