"""GET /metrics: the outbox figures in Prometheus text format, for loopback clients only."""

from __future__ import annotations

import re

import pytest

from tests.webapp.mail.test_outbox import fan_out
from tests.webapp.qa_helpers import answer, ask, member
from tests.webapp.site.test_proxy_and_limits import site as site_with
from webapp.site.extensions import db

NAMES = ("waiting", "in_progress", "held", "done_last_hour", "sent_last_hour", "oldest_waiting_seconds",
         "mail_waiting", "oldest_mail_waiting_seconds")


def scrape(client, address="127.0.0.1", **headers):
    return client.get("/metrics", environ_base={"REMOTE_ADDR": address}, headers=headers)


def values(text: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r"^pickup_relay_outbox_(\w+) (\S+)$", text, re.M)}


def test_a_loopback_scrape_gets_every_figure_with_help_and_type(app, config):
    response = scrape(app.test_client())
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    text = response.get_data(as_text=True)
    for name in NAMES:
        assert re.search(rf"^# HELP pickup_relay_outbox_{name} \S.*$", text, re.M)
        assert f"# TYPE pickup_relay_outbox_{name} gauge\n" in text
    assert values(text) == dict.fromkeys(NAMES, 0.0)
    assert "Set-Cookie" not in response.headers
    assert scrape(app.test_client(), "::1").status_code == 200


def test_the_figures_move_as_an_answer_is_posted_and_fanned_out(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    assert values(scrape(app.test_client()).get_data(as_text=True))["waiting"] == 1
    fan_out(app)
    after = values(scrape(app.test_client()).get_data(as_text=True))
    assert (after["waiting"], after["done_last_hour"], after["sent_last_hour"]) == (0, 1, 1)


def test_many_scrapes_meet_no_rate_limit(app):
    client = app.test_client()
    assert {scrape(client).status_code for _ in range(120)} == {200}


@pytest.mark.parametrize("address", ["10.0.0.5", "192.0.2.7", "2001:db8::1"])
def test_anyone_else_gets_page_not_found(app, address):
    response = scrape(app.test_client(), address)
    assert response.status_code == 404 and "pickup_relay" not in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers


def test_behind_a_trusted_proxy_only_a_scrape_straight_from_this_host_is_answered(tmp_path):
    app, _config = site_with(tmp_path, trusted_proxies=1)
    try:
        client = app.test_client()
        # The proxy on this host forwards a request from outside: refused.
        assert scrape(client, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"}).status_code == 404
        # An outside client claiming to be local: the proxy appends the real address.
        spoofed = {"X-Forwarded-For": "127.0.0.1, 198.51.100.1"}
        assert scrape(client, "127.0.0.1", **spoofed).status_code == 404
        # Through a proxy at all (contrib/nginx.conf closes /metrics): not the scraper.
        assert scrape(client, "127.0.0.1", **{"X-Forwarded-For": "127.0.0.1"}).status_code == 404
        assert scrape(client, "127.0.0.1").status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_client_reaching_gunicorn_directly_cannot_claim_to_be_this_host(tmp_path):
    app, _config = site_with(tmp_path, trusted_proxies=1)
    try:   # gunicorn listening on a public address, the site trusting one proxy hop
        response = scrape(app.test_client(), "203.0.113.9", **{"X-Forwarded-For": "127.0.0.1"})
        assert response.status_code == 404 and "pickup_relay" not in response.get_data(as_text=True)
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_proxied_request_is_refused_when_no_proxy_is_trusted(app):
    assert scrape(app.test_client(), "127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"}).status_code == 404
