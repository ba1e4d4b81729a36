"""Error pages wear the site's layout and say what happened in words."""

from __future__ import annotations

import pytest

from webapp import create_app
from webapp.site.extensions import db


def test_a_missing_page_is_a_404_in_the_sites_layout(client):
    response = client.get("/no-such-page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in page and 'class="brand"' in page and "style.css" in page


def test_a_wrong_method_is_a_405_in_the_sites_layout(client):
    response = client.get("/account/logout")
    assert response.status_code == 405 and 'class="brand"' in response.get_data(as_text=True)


def test_an_expired_form_is_explained_instead_of_bad_request(client):
    response = client.post("/account/login", data={"email": "ann@example.org", "password": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "This form has expired" in page


@pytest.fixture
def failing_app(config):
    app = create_app(config, {"PROPAGATE_EXCEPTIONS": False})

    @app.route("/fails")
    def fails():
        raise RuntimeError("a bug")

    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_server_error_is_a_500_in_the_sites_layout(failing_app, caplog):
    with failing_app.app_context():
        from flask_migrate import upgrade
        upgrade()
    failing_app.logger.addHandler(caplog.handler)  # alembic's logging setup replaced the root's
    try:
        response = failing_app.test_client().get("/fails")
    finally:
        failing_app.logger.removeHandler(caplog.handler)
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in page and 'class="brand"' in page and "a bug" not in page
    assert "a bug" in caplog.text  # the cause is logged for whoever runs the site


def test_the_429_page_says_when_and_never_echoes_a_password_back(client):
    from tests.webapp.conftest import post_form

    fields = {"display_name": "Ann", "email": "ann@example.org", "password": "a secret password",
              "confirm": "a secret password"}
    statuses = [post_form(client, "/account/register", **fields).status_code for _ in range(5)]
    limited = post_form(client, "/account/register", **fields)
    page = limited.get_data(as_text=True)
    assert 429 in statuses and limited.status_code == 429
    assert "try again in" in page and int(limited.headers["Retry-After"]) > 0
    assert "a secret password" not in page and "Your text is kept" not in page
