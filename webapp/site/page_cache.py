"""A short-lived cache of the public pages as a visitor sees them (microcaching).

A visitor without any cookie of the site (no session, no "remember me") gets the same bytes
for the same page as every other such visitor: the question page, the lists, an article. Each
process keeps the rendered body of those pages for [webapp] page_cache_ttl (1 s by default;
"0s" turns it off) and answers again from it, so a page that is read a thousand times a second
is rendered about once a second per process, while members always get a fresh page. What a
process changes itself (a post, a vote, a follow, a hiding, a name) empties its cache at once
(an SQLAlchemy flush of any model the pages show); another process's change shows within the
TTL. Only a 200 answer that set no cookie is kept; the response headers (security headers
among them) are made anew for every answer.

What a visitor sends cannot grow it or reach another visitor: a page is kept under its
canonical address, url_for() of the page with the scheme, host and script root of the request
and only the arguments the page reads (PUBLIC_PAGES); a request with any other argument, or
one given twice, is answered fresh and not kept. A process keeps at most [webapp]
page_cache_size bytes of pages and their keys (the oldest go first), none larger than
1/LARGEST_SHARE of it, and lets expired pages go as it keeps new ones.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from typing import NamedTuple

from flask import Flask, Response, g, request, session, url_for
from sqlalchemy import event
from sqlalchemy.orm import Session

# endpoint -> the query arguments it reads (the views in webapp/posts/): only these make a key.
PUBLIC_PAGES: dict[str, tuple[str, ...]] = {
    "browse.index": ("before",),
    "browse.questions": ("tab", "before"),
    "browse.tag": ("before",),
    "browse.profile": ("questions_before", "answers_before", "articles_before"),
    "questions.show": ("from",),
    "articles.index": ("before",),
    "articles.show": ("after",),
}
LARGEST_SHARE = 16   # a page over budget/16 is rendered for each visitor: a few would fill the cache
_shown: tuple[type, ...] = ()   # models whose rows public pages show: each feature names its own


class _Page(NamedTuple):
    expires: float
    body: bytes
    mimetype: str
    cost: int   # bytes counted against the budget


class PageCache:
    """Pages kept `ttl` seconds, at most `budget` bytes of them; the oldest go first."""

    def __init__(self, ttl: float, budget: int):
        self.ttl = ttl
        self.budget = budget
        # Kept oldest first: with one TTL for all, the order pages came in is the order they expire.
        self.pages: OrderedDict[str, _Page] = OrderedDict()
        self.size = 0   # bytes of the pages and keys kept

    def get(self, key: str) -> tuple[bytes, str] | None:
        now = time.monotonic()
        self._let_expired_go(now)
        found = self.pages.get(key)
        if found is None or found.expires <= now:
            return None
        return found.body, found.mimetype

    def put(self, key: str, body: bytes, mimetype: str) -> None:
        self._forget(key)
        cost = len(body) + len(key)
        if cost > self.budget // LARGEST_SHARE:
            return
        now = time.monotonic()
        self.pages[key] = _Page(now + self.ttl, body, mimetype, cost)
        self.size += cost
        self._let_expired_go(now)
        while self.size > self.budget:
            self._forget(next(iter(self.pages)))

    def clear(self) -> None:
        self.pages.clear()
        self.size = 0

    def _let_expired_go(self, now: float) -> None:
        while self.pages and next(iter(self.pages.values())).expires <= now:
            self._forget(next(iter(self.pages)))

    def _forget(self, key: str) -> None:
        page = self.pages.pop(key, None)
        if page is not None:
            self.size -= page.cost


def shows(*models: type) -> None:
    """Name models whose rows the public pages show: a change to any of them forgets every page."""
    global _shown
    _shown = (*_shown, *models)


def init_app(app: Flask, ttl: float, budget: int) -> None:
    """Keep `app`'s public pages `ttl` seconds ([webapp] page_cache_ttl), at most `budget` bytes
    of them ([webapp] page_cache_size); a ttl of 0: keep nothing."""
    if not ttl:
        return
    cache = PageCache(ttl, budget)
    app.extensions["page_cache"] = cache
    _caches.add(cache)

    @app.before_request
    def _answer_from_cache():
        g.page_cache_key = _key()
        if g.page_cache_key is None:
            return None
        hit = cache.get(g.page_cache_key)
        if hit is None:
            return None
        g.page_cache_hit = True
        return Response(hit[0], status=200, mimetype=hit[1])

    @app.after_request
    def _keep_in_cache(response: Response) -> Response:
        key = g.get("page_cache_key")
        if key is None or g.get("page_cache_hit") or response.status_code != 200 \
                or session.modified or "Set-Cookie" in response.headers or response.direct_passthrough:
            return response
        cache.put(key, response.get_data(), response.mimetype)
        return response


_caches: weakref.WeakSet[PageCache] = weakref.WeakSet()   # every app's in this process


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session, _context) -> None:
    if any(isinstance(o, _shown) for o in (*session.new, *session.dirty, *session.deleted)):
        _forget_all()


@event.listens_for(Session, "do_orm_execute")
def _forget_after_statement(state) -> None:
    """UPDATE/DELETE/INSERT statements on the models (a vote count, an unfollow): no flush sees them."""
    if (state.is_update or state.is_delete or state.is_insert) and \
            any(m.class_ in _shown for m in state.all_mappers):
        _forget_all()


def _forget_all() -> None:
    for cache in list(_caches):
        cache.clear()


def _key() -> str | None:
    """The page's canonical address when this request may share it: a GET of a public page,
    by someone the site has never given a cookie, with only arguments the page reads, each once."""
    reads = PUBLIC_PAGES.get(request.endpoint or "")
    if request.method != "GET" or reads is None or request.cookies:
        return None
    if any(name not in reads or len(values) > 1 for name, values in request.args.lists()):
        return None
    arguments = {name: request.args[name] for name in reads if name in request.args}
    return url_for(request.endpoint, _external=True, **(request.view_args or {}), **arguments)
