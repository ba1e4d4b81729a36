"""A short-lived cache of the public pages as a visitor sees them (microcaching).

A visitor without any cookie of the site (no session, no "remember me") gets the same bytes
for the same page as every other such visitor: the question page, the lists, an article. Each
process keeps the rendered body of those pages for [webapp] page_cache_ttl (1 s by default;
"0s" turns it off) and answers again from it, so a page that is read a thousand times a second
is rendered about once a second per process, while members always get a fresh page. What a
process changes itself (a post, a vote, a follow, a hiding, a name) empties its cache at once
(an SQLAlchemy flush of any model the pages show); another process's change shows within the
TTL. Only a 200 answer that set no cookie is kept; the response headers (security headers
among them) are made anew for every answer. At most MAX_PAGES pages a process.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict

from flask import Flask, Response, g, request, session
from sqlalchemy import event
from sqlalchemy.orm import Session

PUBLIC_PAGES = {"browse.index", "browse.questions", "browse.tag", "browse.profile",
                "questions.show", "articles.index", "articles.show"}
_shown: tuple[type, ...] = ()   # models whose rows public pages show: each feature names its own
MAX_PAGES = 2000


class PageCache:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self.pages: OrderedDict[str, tuple[float, bytes, str]] = OrderedDict()

    def get(self, key: str) -> tuple[bytes, str] | None:
        found = self.pages.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1], found[2]

    def put(self, key: str, body: bytes, mimetype: str) -> None:
        self.pages[key] = (time.monotonic() + self.ttl, body, mimetype)
        self.pages.move_to_end(key)
        while len(self.pages) > MAX_PAGES:
            self.pages.popitem(last=False)

    def clear(self) -> None:
        self.pages.clear()


def shows(*models: type) -> None:
    """Name models whose rows the public pages show: a change to any of them forgets every page."""
    global _shown
    _shown = (*_shown, *models)


def init_app(app: Flask, ttl: float) -> None:
    """Keep `app`'s public pages `ttl` seconds ([webapp] page_cache_ttl); 0: keep nothing."""
    if not ttl:
        return
    cache = PageCache(ttl)
    app.extensions["page_cache"] = cache
    _caches.add(cache)

    @app.before_request
    def _answer_from_cache():
        if not _cacheable():
            return None
        g.page_cache_key = request.full_path
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


def _cacheable() -> bool:
    """A GET of a public page by someone the site has never given a cookie."""
    return (request.method == "GET" and request.endpoint in PUBLIC_PAGES and not request.cookies)
