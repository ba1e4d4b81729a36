"""A session's browser as a member says it: "Firefox on Linux", not a User-Agent string.

Reads the User-Agent a login stored (webapp.accounts.session_store) and trusts nothing in it:
it is whatever the client sent. The names come from ua-parser's maintained rules; a string it
does not know (a script, a test client, nothing) is "Unknown browser", never an error.
"""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

UNKNOWN = "Unknown browser"
OTHER = "Other"   # ua-parser's name for what its rules do not know


def _known(name: str | None) -> str | None:
    return name if name and name != OTHER else None


@lru_cache(maxsize=512)   # a member's sessions repeat a few strings; parsing one costs a regex run
def browser_name(agent: str | None) -> str:
    """'Firefox on Linux', 'Mobile Safari on iOS', 'Firefox' (system unknown), or UNKNOWN."""
    if not agent:
        return UNKNOWN
    parsed = parse(agent)
    browser = _known(parsed.user_agent and parsed.user_agent.family)
    system = _known(parsed.os and parsed.os.family)
    if browser is None:
        return UNKNOWN
    return f"{browser} on {system}" if system else browser
