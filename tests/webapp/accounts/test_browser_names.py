"""A session's browser by name: what the sessions page shows instead of a User-Agent string."""

from __future__ import annotations

import pytest

from webapp.accounts.browser_names import UNKNOWN, browser_name


@pytest.mark.parametrize(("agent", "name"), [
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "Mobile Safari on iOS"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", "Chrome on Windows"),
    ("curl/8.5.0", "curl"),
    ("Werkzeug/3.1.3", UNKNOWN),
    ("", UNKNOWN),
    (None, UNKNOWN),
])
def test_a_user_agent_is_named_as_a_member_would_say_it(agent, name):
    assert browser_name(agent) == name
