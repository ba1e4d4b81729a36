"""Behind a reverse proxy and under attack: whose address a limit counts, and failed logins per
account and client (webapp.accounts.login_limits; tests/webapp/accounts/test_login_limits.py)."""

from __future__ import annotations

import pytest

from tests.configs import SITE, build_config
from tests.webapp.accounts.test_auth import PASSWORD, activated_member
from tests.webapp.conftest import post_form
from webapp import create_app
from webapp.site.extensions import db


def site(tmp_path, **webapp):
    config = build_config(tmp_path, SITE, webapp=webapp)
    app = create_app(config, {"TESTING": True})
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
    return app, config


def reset_codes(client, forwarded_for: str, n: int) -> list[int]:
    return [client.post("/account/reset", data={"email": f"n{i}@example.org"},
                        headers={"X-Forwarded-For": forwarded_for},
                        environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code for i in range(n)]


@pytest.mark.parametrize("hops, shared", [(0, True), (1, False)])
def test_clients_behind_a_trusted_proxy_get_a_limit_each(tmp_path, hops, shared):
    app, _config = site(tmp_path, trusted_proxies=hops)
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        client = app.test_client()
        first = reset_codes(client, "198.51.100.1", 20)
        second = reset_codes(client, "198.51.100.2", 1)
        assert first == [200] * 20
        # Without trusted_proxies the header is ignored: every client is the proxy, one bucket.
        assert second == ([429] if shared else [200])
    finally:
        with app.app_context():
            db.engine.dispose()


def test_failed_logins_are_limited_per_account_and_client_and_a_success_does_not_count(tmp_path):
    app, config = site(tmp_path, failed_logins_per_hour=3)
    try:
        client = app.test_client()
        activated_member(client, config)
        login = {"email": "ann@example.org", "password": PASSWORD}
        assert post_form(client, "/account/login", **login).status_code == 302
        client.post("/account/logout", data={"csrf_token": ""})
        other = app.test_client()
        codes = [post_form(other, "/account/login", email="ann@example.org",
                           password="wrong guess").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # From that client the right password is refused too until the hour is over: guessing stops.
        assert post_form(app.test_client(), "/account/login", **login).status_code == 429
        assert post_form(app.test_client(), "/account/login", email="bob@example.org",
                         password="wrong guess").status_code == 200  # another account is not
    finally:
        with app.app_context():
            db.engine.dispose()

