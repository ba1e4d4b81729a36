"""One posting budget per member: [webapp] posts_per_minute questions, answers, articles and
comments together, then the site's 429 page until the minute is over.

Only posts that were made count (a redirect after the POST); a form sent back with mistakes
does not. Counted in the rate-limit store ([webapp] ratelimit_storage), like every limit.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from webapp.site.config import site_config
from webapp.site.extensions import limiter


def _posts_per_minute() -> str:
    return f"{site_config().webapp.posts_per_minute} per minute"


def _poster() -> str:
    return f"poster:{current_user.get_id() and current_user.id}"


def _not_a_post() -> bool:
    return request.method != "POST" or not current_user.is_authenticated


def _made(response) -> bool:
    return response.status_code == 302


posting_limit = limiter.shared_limit(_posts_per_minute, scope="posts", key_func=_poster,
                                     exempt_when=_not_a_post, deduct_when=_made)
