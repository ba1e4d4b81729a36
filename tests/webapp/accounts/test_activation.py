"""Activation: a POST from the page the link opens, and never of a password the mailbox's owner
did not choose: the "already registered" mail and a resent activation lead to choosing it."""

from __future__ import annotations

import re

from tests.webapp.accounts.test_auth import login, mail, register
from tests.webapp.conftest import link_in, pickup_messages, post_form
from webapp.accounts.models import User
from webapp.site.extensions import db

EVE = "eve's own password"        # typed by whoever registered Ann's address first
ANNS = "ann's chosen password"


def is_active(app, email="ann@example.org") -> bool:
    with app.app_context():
        return User.by_email(email).is_activated


def act_on(client, raw: bytes, password: str | None = None):
    """Do what a mail's account link asks: open it, then send the page's form (a new password
    if the page asks for one, else its button); the last answer."""
    path = re.search(r"https?://[^/\s]+(/account/[a-z-]+/[A-Za-z0-9_.\-]{20,})",
                     mail(raw).get_body(("plain",)).get_content()).group(1)
    answer = client.get(path)
    page = answer.location if answer.status_code == 302 else path
    if answer.status_code != 302 or page.startswith("/account/login"):
        return answer
    text = client.get(page).get_data(as_text=True)
    if 'id="confirm"' in text and password:
        return post_form(client, page, password=password, confirm=password)
    return post_form(client, page) if 'type="submit"' in text else answer


def test_opening_an_activation_link_activates_nothing_until_the_pages_button_is_pressed(app, client, config):
    register(client)
    scanner = app.test_client()     # a mail filter fetching every link, redirects included
    scanner.get(link_in(pickup_messages(config)[0], "activate"), follow_redirects=True)
    assert not is_active(app)
    opened = client.get(link_in(pickup_messages(config)[0], "activate"))
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    page = client.get(opened.location).get_data(as_text=True)
    assert "Activate my account" in page and not is_active(app)
    assert post_form(client, opened.location).location == "/account/login"
    assert is_active(app) and login(client).status_code == 302


def test_someone_who_registered_your_address_first_cannot_log_in_once_you_sign_up(app, config):
    """The chain as reproduced: Eve registers Ann's address with her own password; Ann signs up
    later, gets "you already have an account" and does what it says."""
    register(app.test_client(), password=EVE)
    ann = app.test_client()
    register(ann, password=ANNS)
    reminder = pickup_messages(config)[-1]
    assert mail(reminder)["Subject"] == "You already have an account"
    act_on(ann, reminder, password=ANNS)
    assert login(app.test_client(), password=EVE).status_code != 302
    assert is_active(app) and login(app.test_client(), password=ANNS).status_code == 302


def test_a_resent_activation_leads_to_choosing_the_password(app, config):
    register(app.test_client(), password=EVE)
    ann = app.test_client()
    post_form(ann, "/account/activate", email="ann@example.org")
    resent = pickup_messages(config)[-1]
    act_on(ann, resent, password=ANNS)
    assert login(app.test_client(), password=EVE).status_code != 302
    assert is_active(app) and login(app.test_client(), password=ANNS).status_code == 302


def test_choosing_the_password_ends_every_session_of_the_account(app, config):
    register(app.test_client(), password=EVE)
    post_form(app.test_client(), "/account/activate", email="ann@example.org")
    choose = pickup_messages(config)[-1]
    with app.app_context():   # activated meanwhile with Eve's password, and Eve logged in
        db.session.execute(db.update(User).values(activated_at=db.func.current_timestamp()))
        db.session.commit()
    eve = app.test_client()
    assert login(eve, password=EVE).status_code == 302
    act_on(app.test_client(), choose, password=ANNS)
    assert "Welcome back" not in eve.get("/").get_data(as_text=True)
    assert login(app.test_client(), password=ANNS).status_code == 302


def test_a_choose_your_password_link_works_once(app, config):
    register(app.test_client(), password=EVE)
    post_form(app.test_client(), "/account/activate", email="ann@example.org")
    choose = pickup_messages(config)[-1]
    act_on(app.test_client(), choose, password=ANNS)
    again = act_on(app.test_client(), choose, password="a third password")
    assert again.status_code == 400
    assert login(app.test_client(), password=ANNS).status_code == 302


def test_forgot_password_for_a_waiting_account_leads_to_choosing_its_password(app, config):
    register(app.test_client(), password=EVE)
    ann = app.test_client()
    post_form(ann, "/account/reset", email="ann@example.org")   # "I never knew that password"
    act_on(ann, pickup_messages(config)[-1], password=ANNS)
    assert login(app.test_client(), password=EVE).status_code != 302
    assert is_active(app) and login(app.test_client(), password=ANNS).status_code == 302
