"""The account forms' checks and their messages, through the pages that use them."""

from __future__ import annotations

import pytest

from tests.configs import SITE, build_config
from tests.webapp.accounts.test_auth import register
from tests.webapp.conftest import pickup_messages, post_form, site_app


@pytest.fixture
def public_app(tmp_path):
    """A site whose smart host is a real mail server, not the local sink: mail leaves the machine."""
    config = build_config(tmp_path, SITE, relay={"smarthost": {"host": "smtp.example.org", "port": 587}},
                          webapp={"base_url": "http://qa.example.org"})
    with site_app(config) as app:
        yield app, config


@pytest.mark.parametrize("address", ["ann@example.test", "ann@mail.example.test", "bob@localhost",
                                     "carol@printer.local"])
def test_a_local_run_accepts_addresses_at_reserved_domains_as_the_readme_uses(client, config, address):
    page = register(client, email=address).get_data(as_text=True)
    assert "Check your inbox" in page
    assert len(pickup_messages(config)) == 1


@pytest.mark.parametrize("address, domain", [("ann@example.test", "example.test"),
                                             ("carol@printer.local", "printer.local")])
def test_a_public_site_refuses_reserved_domains_saying_why(public_app, address, domain):
    app, config = public_app
    page = register(app.test_client(), email=address).get_data(as_text=True)
    assert "Check your inbox" not in page and "Invalid email address" not in page
    assert f"Mail cannot reach {domain}" in page and "reserved for testing" in page
    assert pickup_messages(config) == []


def test_a_public_site_still_takes_ordinary_addresses(public_app):
    app, config = public_app
    assert "Check your inbox" in register(app.test_client()).get_data(as_text=True)


def test_a_mistyped_address_is_explained_in_words(client):
    page = register(client, email="ann.example.org").get_data(as_text=True)
    assert "An email address has an @-sign" in page


def test_a_short_password_is_explained_in_words(client):
    page = register(client, password="short").get_data(as_text=True)
    assert "Choose a password of at least 8 characters" in page
    assert "Field must be between" not in page


def test_the_login_form_takes_a_reserved_domain_in_a_local_run(client):
    page = post_form(client, "/account/login", email="ann@example.test", password="whatever it is")
    assert "do not match an account" in page.get_data(as_text=True)
