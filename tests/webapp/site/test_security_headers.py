"""Every response carries the security headers; HSTS only when the public address is https."""

from __future__ import annotations

import pytest

from tests.configs import replaced
from webapp import create_app
from webapp.site.extensions import db


@pytest.mark.parametrize("path", ["/", "/account/login", "/account/register", "/no-such-page",
                                  "/static/style.css"])
def test_pages_forbid_framing_sniffing_inline_script_and_leaking_their_address(client, path):
    with client.get(path) as response:  # a static file's response holds the file open
        headers = response.headers
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'" and policy["form-action"] == "'self'"
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"  # a reset link's token stays on the site
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_no_hsts_when_the_site_is_served_over_http(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_hsts_when_base_url_is_https_even_behind_a_tls_terminating_proxy(config):
    https = replaced(config, webapp={"base_url": "https://qa.example.test"})
    app = create_app(https, {"TESTING": True})
    try:
        # The proxy speaks plain HTTP to the site and says nothing of the scheme.
        response = app.test_client().get("/account/login")  # a page that needs no tables
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        with app.app_context():
            db.engine.dispose()


def test_plain_http_requests_are_not_redirected_by_the_site(client):
    assert client.get("/").status_code == 200
