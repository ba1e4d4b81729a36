"""The 429 page: when to try again, and the text of a refused post kept to send again.

Reads the limit Flask-Limiter found breached (its reset time; the same one the Retry-After
header carries) and, for a refused POST, the text fields a member wrote (KEPT: a title, tags,
a body). It shows those in a form that posts to the same address with a fresh CSRF token, so a
member who wrote a long answer waits and presses the button instead of writing it again.
Secrets (passwords) and other fields are never echoed back.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import render_template, request

from webapp.site.extensions import limiter

KEPT = ("title", "tags", "body")   # what a member writes; the text area last, as the forms show it


@dataclass(frozen=True)
class Wait:
    seconds: int
    until: datetime   # UTC

    @property
    def words(self) -> str:
        if self.seconds < 90:
            return f"{self.seconds} second{'s' if self.seconds != 1 else ''}"
        minutes = math.ceil(self.seconds / 60)
        if minutes < 90:
            return f"{minutes} minutes"
        return f"{math.ceil(minutes / 60)} hours"


def wait(now: float | None = None) -> Wait | None:
    """How long until the breached limit lets this client through again (None: not known)."""
    breached = limiter.current_limit
    if breached is None:
        return None
    now = time.time() if now is None else now
    seconds = max(1, int(breached.reset_at - now))   # rounded as Flask-Limiter's Retry-After is
    return Wait(seconds, datetime.fromtimestamp(now + seconds, UTC))


def kept_fields() -> list[tuple[str, str]]:
    """The refused POST's text fields (name, value), in the order of KEPT; empty for a GET."""
    if request.method != "POST":
        return []
    return [(name, request.form[name]) for name in KEPT if request.form.get(name)]


def page(error):
    """The 429 response (the status kept; Flask-Limiter adds Retry-After and its headers)."""
    return render_template("too_many.html", limit=getattr(error, "description", ""), wait=wait(),
                           kept=kept_fields(), action=request.path), 429
