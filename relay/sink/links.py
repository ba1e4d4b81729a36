"""The links in a message (its text part's URLs and its HTML part's hrefs), and a check that
each answers, for the inbox's message page and its API (Mailpit's link check).

A link is checked from the inbox's machine, with a HEAD (a GET when the server refuses HEAD),
redirects followed, and a timeout: the answer is the final status code or what went wrong.
check_links() asks a message's first CHECK_MAX links, CHECK_AT_ONCE at a time. Only http and
https links are listed or checked. URL and TRAILING find the links in text (also for the page
that shows the text with its links clickable)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser

from relay.sink.message_view import MessageView

CHECK_TIMEOUT = 5.0
CHECK_AT_ONCE = 8
CHECK_MAX = 100           # a newsletter can have hundreds: it still answers within a minute or two
URL = re.compile(r"https?://[^\s<>\"'\x00-\x1f]+")
TRAILING = ".,;:!?)]}"    # the sentence's punctuation, not the link's


@dataclass(frozen=True)
class LinkCheck:
    url: str
    status: int | None   # the final HTTP status; None when no answer came
    error: str           # what went wrong ("" when the server answered)

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400


def links(shown: MessageView) -> list[str]:
    """Every distinct http(s) link of the message, in the order they first appear."""
    found: list[str] = []
    if shown.text:
        found += [match.group(0).rstrip(TRAILING) for match in URL.finditer(shown.text)]
    if shown.html:
        collector = _Hrefs()
        collector.feed(shown.html)
        found += collector.hrefs
    return list(dict.fromkeys(url for url in found if url.lower().startswith(("http://", "https://"))))


def check_links(shown: MessageView) -> list[LinkCheck]:
    """The message's first CHECK_MAX links, each checked, CHECK_AT_ONCE at a time, in order."""
    urls = links(shown)[:CHECK_MAX]
    if not urls:
        return []
    with ThreadPoolExecutor(min(CHECK_AT_ONCE, len(urls)), thread_name_prefix="link-check") as pool:
        return list(pool.map(check, urls))


def check(url: str, timeout: float = CHECK_TIMEOUT) -> LinkCheck:
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method,
                                         headers={"User-Agent": "pickup-relay-inbox link check"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return LinkCheck(url, response.status, "")
        except urllib.error.HTTPError as e:
            if method == "HEAD" and e.code in (405, 501):
                continue   # a server that answers only GET
            return LinkCheck(url, e.code, "")
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            return LinkCheck(url, None, str(reason) or type(e).__name__)
    return LinkCheck(url, None, "no answer")


class _Hrefs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href.strip())
