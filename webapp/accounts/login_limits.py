"""Failed logins, counted so that password guessing stops and a stranger cannot lock a member out.

Two counts of wrong passwords, each for an hour from its first one, in the rate-limit store
([webapp] ratelimit_storage: every process and host counts together): per account and client
address ([webapp] failed_logins_per_hour, 10; the address behind a proxy only with
trusted_proxies), and per account from every client together (failed_logins_all_clients_per_hour,
100). Past either, password logins to that account from that client (past the second, from any
client) answer 429, the right password too: guessing stops there. A guesser's own address is
the only one the first count pauses, so the owner goes on logging in from theirs. The second,
against guessing spread over many addresses, does pause the owner, but never shuts them out:
a password reset by mail logs its member in without a password login
(webapp.accounts.passwords), as a mailed link unlocks a locked account on GitLab (Devise's
lockable), while Discourse-style limits per address and client keep one client's guessing from
counting against everyone. A typed address without an account counts the same, so a pause says
nothing about who has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask_limiter.util import get_remote_address
from limits import RateLimitItemPerHour

from webapp.accounts.models import User
from webapp.site.config import site_config
from webapp.site.extensions import limiter


@dataclass(frozen=True)
class Pause:
    """Password logins to an address are paused until `until` (UTC), for this client only or,
    `everywhere`, for every client."""
    until: datetime
    everywhere: bool


def _counts(email: str) -> list[tuple[RateLimitItemPerHour, tuple[str, ...], bool]]:
    """Each count a wrong password for `email` adds to: (limit, key, whether it pauses everywhere)."""
    web, address = site_config().webapp, User.normalize_email(email)
    per_client = RateLimitItemPerHour(web.failed_logins_per_hour)
    per_account = RateLimitItemPerHour(web.failed_logins_all_clients_per_hour)
    return [(per_client, ("failed-login", address, get_remote_address()), False),
            (per_account, ("failed-login-all", address), True)]


def pause(email: str) -> Pause | None:
    """Whether a login to `email` from this client must wait, and until when."""
    if not limiter.enabled:
        return None
    for limit, key, everywhere in _counts(email):
        if not limiter.limiter.test(limit, *key):
            reset_at = limiter.limiter.get_window_stats(limit, *key).reset_time
            return Pause(datetime.fromtimestamp(reset_at, UTC).replace(tzinfo=None), everywhere)
    return None


def failed(email: str) -> None:
    """Count a wrong password for `email` from this client."""
    if limiter.enabled:
        for limit, key, _everywhere in _counts(email):
            limiter.limiter.hit(limit, *key)
