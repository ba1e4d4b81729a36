"""The account forms take as long whether or not the address has an account.

Each test times ~50 requests of each kind, interleaved so that a busy machine slows
both alike, and compares the medians. Every path writes a mail durably (file fsync,
rename, folder fsync) or rehearses exactly that work.
"""

from __future__ import annotations

import statistics
import time

import pytest

from tests.webapp.accounts.test_auth import PASSWORD
from tests.webapp.conftest import csrf_token
from webapp import create_app
from webapp.accounts.models import User
from webapp.site.database import utcnow
from webapp.site.extensions import db

RATIO = (0.75, 1.33)


@pytest.fixture
def timed_app(config):
    app = create_app(config, {"TESTING": True, "RATELIMIT_ENABLED": False})  # hundreds of posts
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        for email, active in (("active@example.org", True), ("waiting@example.org", False)):
            user = User(email=email, display_name="Member", activated_at=utcnow() if active else None)
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def median_ms(client, path: str, kinds: dict[str, object], rounds: int) -> dict[str, float]:
    """Medians per kind; kinds maps a name to a function giving the form for round i."""
    times: dict[str, list[float]] = {name: [] for name in kinds}
    token = csrf_token(client, path)
    for i in range(-3, rounds):  # three rounds of warm-up
        for name, form in kinds.items():
            data = {"csrf_token": token, **form(i)}
            start = time.perf_counter()
            response = client.post(path, data=data)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, (name, response.status_code)
            if i >= 0:
                times[name].append(elapsed)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def assert_alike(medians: dict[str, float], baseline: str) -> None:
    for name, value in medians.items():
        ratio = value / medians[baseline]
        assert RATIO[0] <= ratio <= RATIO[1], f"{name} / {baseline} = {ratio:.2f} ({medians})"


def test_resend_activation_takes_as_long_for_unknown_waiting_and_active_addresses(timed_app, config):
    medians = median_ms(timed_app.test_client(), "/account/activate", {
        "unknown": lambda i: {"email": f"nobody{i}@example.org"},
        "waiting": lambda i: {"email": "waiting@example.org"},
        "active": lambda i: {"email": "active@example.org"},
    }, rounds=50)
    assert_alike(medians, "unknown")


def test_a_reset_request_takes_as_long_for_unknown_waiting_and_active_addresses(timed_app):
    medians = median_ms(timed_app.test_client(), "/account/reset", {
        "unknown": lambda i: {"email": f"nobody{i}@example.org"},
        "waiting": lambda i: {"email": "waiting@example.org"},
        "active": lambda i: {"email": "active@example.org"},
    }, rounds=50)
    assert_alike(medians, "unknown")


def test_registering_takes_as_long_for_a_new_address_as_for_a_taken_one(timed_app):
    def form(email):
        return {"display_name": "Member", "email": email, "password": PASSWORD, "confirm": PASSWORD}

    medians = median_ms(timed_app.test_client(), "/account/register", {
        "new": lambda i: form(f"new{i + 3}@example.org"),
        "taken": lambda i: form("active@example.org"),
        "waiting": lambda i: form("waiting@example.org"),
    }, rounds=15)  # a password hash each (~0.1 s) dwarfs the rest: fewer rounds do
    assert_alike(medians, "new")
