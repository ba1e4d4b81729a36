"""One posting budget per member: [webapp] posts_per_minute questions, answers, articles and
comments together, then the site's 429 page until the minute is over.

Only posts that were made count (a redirect after the POST); a form sent back with mistakes
does not. Counted in the rate-limit store ([webapp] ratelimit_storage), like every limit.
A post made without a request (a reply by mail, webapp.inbound.replies) asks may_post() and
is counted by count_post(), in the same count under the same key as the web form's.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user
from limits import RateLimitItem, parse

from webapp.site.config import site_config
from webapp.site.extensions import limiter

SCOPE = "posts"   # one budget shared by every posting form (a shared limit's scope)


def _posts_per_minute() -> str:
    return f"{site_config().webapp.posts_per_minute} per minute"


def poster_key(member_id: int | None) -> str:
    return f"poster:{member_id}"


def _poster() -> str:
    return poster_key(current_user.get_id() and current_user.id)


def _not_a_post() -> bool:
    return request.method != "POST" or not current_user.is_authenticated


def _made(response) -> bool:
    return response.status_code == 302


posting_limit = limiter.shared_limit(_posts_per_minute, scope=SCOPE, key_func=_poster,
                                     exempt_when=_not_a_post, deduct_when=_made)


def _budget() -> RateLimitItem:
    return parse(_posts_per_minute())


def may_post(member_id: int) -> bool:
    """Whether the member has a post left in this minute's budget."""
    return not limiter.enabled or limiter.limiter.test(_budget(), poster_key(member_id), SCOPE)


def count_post(member_id: int) -> None:
    """Count a post the member made without a request, as the web form's is counted."""
    if limiter.enabled:
        limiter.limiter.hit(_budget(), poster_key(member_id), SCOPE)
