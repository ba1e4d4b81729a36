"""Password guessing and mail floods are stopped, and the owner still gets in while they run:
failed logins count per account and client, a looser ceiling per account gives way to a reset
by mail, and a reset link logs its member in."""

from __future__ import annotations

import pytest

from tests.configs import SITE, build_config
from tests.webapp.accounts.test_auth import activated_member, login
from tests.webapp.conftest import link_in, pickup_messages, post_form, site_app

OWNER, GUESSER = "198.51.100.7", "203.0.113.9"


@pytest.fixture
def limited(tmp_path):
    """The site with 3 failed logins an hour per account and client, 6 per account; Ann active."""
    config = build_config(tmp_path, SITE, webapp={"failed_logins_per_hour": 3,
                                                  "failed_logins_all_clients_per_hour": 6})
    with site_app(config) as app:
        activated_member(app.test_client(), config)
        yield app, config


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def guess(app, address: str, times: int, email="ann@example.org") -> list[int]:
    client = client_at(app, address)
    return [login(client, email=email, password=f"guess {n}").status_code for n in range(times)]


def test_guessing_from_one_client_stops_there_even_for_the_right_password(limited):
    app, _config = limited
    assert guess(app, GUESSER, 5) == [200, 200, 200, 429, 429]
    refused = login(client_at(app, GUESSER))
    assert refused.status_code == 429 and "reset your password" in refused.get_data(as_text=True)
    assert guess(app, GUESSER, 1, email="bob@example.org") == [200]   # another account is not


def test_a_flood_of_wrong_passwords_from_one_client_does_not_lock_the_owner_out(limited):
    app, _config = limited
    assert guess(app, GUESSER, 5)[-1] == 429
    assert login(client_at(app, OWNER)).status_code == 302


def test_guessing_from_many_clients_stops_at_the_ceiling_for_every_client(limited):
    app, _config = limited
    for n in range(3):
        assert guess(app, f"192.0.2.{n}", 2) == [200, 200]
    assert guess(app, "192.0.2.99", 1) == [429]       # the seventh guess, from a fresh address
    paused = login(client_at(app, OWNER))             # the owner's right password waits too ...
    assert paused.status_code == 429
    assert "reset your password" in paused.get_data(as_text=True)   # ... and is told the way in


def test_the_owner_gets_in_by_mail_while_guessing_and_a_reset_flood_run(limited):
    """The lock-out as reproduced: failed logins for Ann's address from many clients, reset
    requests for it from another; Ann, from her own client, gets in through her mailbox."""
    app, config = limited
    for n in range(4):
        guess(app, f"192.0.2.{n}", 2)
    flood = client_at(app, GUESSER)
    codes = [post_form(flood, "/account/reset", email="ann@example.org").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]        # the inbox gets three mails, no more
    ann = client_at(app, OWNER)
    assert login(ann).status_code == 429
    asked = post_form(ann, "/account/reset", email="ann@example.org")
    assert asked.status_code == 429 and "newest" in asked.get_data(as_text=True)
    newest = link_in(pickup_messages(config)[-1], "reset")
    opened = ann.get(newest)
    chosen = post_form(ann, opened.location, password="a new passphrase", confirm="a new passphrase")
    assert chosen.status_code == 302
    assert "Welcome back, Ann" in ann.get(chosen.location).get_data(as_text=True)
    assert ann.get("/account/settings").status_code == 200


def test_a_reset_link_logs_its_member_in_and_every_other_session_out(limited):
    app, config = limited
    other = client_at(app, GUESSER)
    assert login(other).status_code == 302
    ann = client_at(app, OWNER)
    post_form(ann, "/account/reset", email="ann@example.org")
    opened = ann.get(link_in(pickup_messages(config)[-1], "reset"))
    chosen = post_form(ann, opened.location, password="a new passphrase", confirm="a new passphrase")
    assert chosen.location == "/" and "Welcome back, Ann" in ann.get("/").get_data(as_text=True)
    assert other.get("/account/settings").status_code == 302


def test_the_429_pages_say_what_to_do_on_each_form(limited):
    app, _config = limited
    codes = [login(client_at(app, GUESSER), email=f"n{n}@example.org", password="x").status_code
             for n in range(21)]
    assert codes[-1] == 429 and codes[:20] == [200] * 20     # 20 login forms an hour from one client
    page = login(client_at(app, GUESSER), email="n@example.org", password="x").get_data(as_text=True)
    assert "That form was used too often" in page and "emails already sent" not in page
    mailer = client_at(app, GUESSER)
    for _ in range(4):
        flooded = post_form(mailer, "/account/activate", email="ann@example.org")
    assert flooded.status_code == 429 and "use the newest one" in flooded.get_data(as_text=True)
