"""Accounts through the test client: register, activate, log in, reset; every mail lands in pickup."""

from __future__ import annotations

import os
import re
from email import message_from_bytes
from email.policy import default
from urllib.parse import urlencode

import pytest

from spooler.envelope import parse_pickup
from tests.configs import replaced
from tests.webapp.conftest import (
    activate,
    choose_password,
    csrf_token,
    link_in,
    pickup_messages,
    post_form,
    reconfigure,
)
from webapp.accounts import tokens
from webapp.accounts.models import User
from webapp.site.extensions import db

PASSWORD = "correct horse battery"


def register(client, email="ann@example.org", name="Ann", password=PASSWORD):
    return post_form(client, "/account/register", display_name=name, email=email,
                     password=password, confirm=password)


def login(client, email="ann@example.org", password=PASSWORD):
    return post_form(client, "/account/login", email=email, password=password)


def mail(raw: bytes):
    return message_from_bytes(parse_pickup(raw).content.replace(b"\r\n", b"\n"), policy=default)


def app_client(client):
    """Another browser on the same site."""
    return client.application.test_client()


def activated_member(client, config, email="ann@example.org", name="Ann"):
    register(client, email=email, name=name)
    assert activate(client, link_in(pickup_messages(config)[-1], "activate")).status_code == 302


def test_registration_writes_one_activation_mail_to_pickup(client, config):
    response = register(client)
    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    [raw] = pickup_messages(config)
    parsed = parse_pickup(raw)
    assert parsed.recipients == ("ann@example.org",) and parsed.sender == "noreply@example.test"
    msg = message_from_bytes(parsed.content.replace(b"\r\n", b"\n"), policy=default)
    assert msg["Subject"] == "Activate your account"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@qa.example.test>")
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_account_cannot_log_in_until_its_link_is_followed(client, config):
    register(client)
    response = login(client)
    assert response.status_code == 302 and "/account/activate" in response.location
    assert activate(client, link_in(pickup_messages(config)[0], "activate")).status_code == 302
    assert login(client).status_code == 302
    assert "Welcome back, Ann" in client.get("/").get_data(as_text=True)


def test_used_activation_link_says_the_account_is_already_active(client, config):
    register(client)
    link = link_in(pickup_messages(config)[0], "activate")
    activate(client, link)
    again = client.get(link, follow_redirects=True)
    assert "already active" in again.get_data(as_text=True)


def test_tampered_and_expired_activation_links_are_refused_plainly(app, client, config):
    register(client)
    link = link_in(pickup_messages(config)[0], "activate")
    tampered = client.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert tampered.status_code == 400 and "not valid" in tampered.get_data(as_text=True)
    reconfigure(app, activation_expiry=-1)
    expired = client.get(link)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)


def test_resend_activation_writes_a_new_mail(client, config):
    register(client)
    post_form(client, "/account/activate", email="ann@example.org")
    assert len(pickup_messages(config)) == 2


def test_registering_a_taken_address_answers_the_same_and_mails_its_owner(client, config):
    activated_member(client, config)
    client = client.application.test_client()  # a stranger: no session of Ann's
    first = register(client, email="new@example.org").get_data(as_text=True)
    second = register(client, name="Impostor").get_data(as_text=True)
    assert first.replace("new@example.org", "X") == second.replace("ann@example.org", "X")
    reminder = mail(pickup_messages(config)[-1])
    assert reminder["To"] == "Ann <ann@example.org>"
    assert reminder["Subject"] == "You already have an account"
    text = reminder.get_body(("plain",)).get_content()
    assert "http://qa.example.test/account/login" in text
    assert "http://qa.example.test/account/reset" in text
    assert "Impostor" not in reminder.as_string()


def test_registering_again_before_activating_mails_a_link_to_choose_the_password(client, config):
    register(client)
    register(client, name="Ann again", password="the second password")
    reminder = pickup_messages(config)[-1]
    assert mail(reminder)["Subject"] == "You already have an account"
    link = link_in(reminder, "activate")
    assert choose_password(client, link, "the second password").location == "/"
    assert "Welcome back, Ann." in client.get("/").get_data(as_text=True)   # logged in at once
    assert login(app_client(client), password="the second password").status_code == 302


def test_wrong_password_and_unknown_address_get_the_same_answer(client, config):
    activated_member(client, config)
    wrong = login(client, password="wrong password").get_data(as_text=True)
    unknown = login(client, email="nobody@example.org").get_data(as_text=True)
    assert "do not match" in wrong

    def comparable(page: str, email: str) -> str:  # the form's fresh CSRF token differs by design
        return re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", page).replace(email, "X")

    assert comparable(wrong, "ann@example.org") == comparable(unknown, "nobody@example.org")


def test_password_reset_end_to_end(client, config):
    activated_member(client, config)
    response = post_form(client, "/account/reset", email="ann@example.org")
    assert response.status_code == 200
    link = link_in(pickup_messages(config)[-1], "reset")
    changed = choose_password(client, link, "a brand new secret")
    assert changed.status_code == 302
    assert "do not match" in login(app_client(client)).get_data(as_text=True)
    assert login(app_client(client), password="a brand new secret").status_code == 302


def test_reset_link_works_once(client, config):
    activated_member(client, config)
    post_form(client, "/account/reset", email="ann@example.org")
    link = link_in(pickup_messages(config)[-1], "reset")
    choose_password(client, link, "a brand new secret")
    reused = client.get(link)
    assert reused.status_code == 400 and "already been used" in reused.get_data(as_text=True)


def test_reset_link_expires_after_an_hour(app, client, config, monkeypatch):
    activated_member(client, config)
    post_form(client, "/account/reset", email="ann@example.org")
    monkeypatch.setattr(tokens, "RESET_MAX_AGE", -1)
    expired = client.get(link_in(pickup_messages(config)[-1], "reset"))
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)


def test_new_password_ends_other_sessions(app, client, config):
    activated_member(client, config)
    other = app.test_client()
    login(other)
    assert "Welcome back" in other.get("/").get_data(as_text=True)
    post_form(client, "/account/reset", email="ann@example.org")
    link = link_in(pickup_messages(config)[-1], "reset")
    choose_password(client, link, "a brand new secret")
    assert "Welcome back" not in other.get("/").get_data(as_text=True)


def test_reset_request_answers_the_same_for_known_and_unknown_addresses(client, config):
    activated_member(client, config)
    before = len(pickup_messages(config))
    known = post_form(client, "/account/reset", email="ann@example.org")
    unknown = post_form(client, "/account/reset", email="nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True).replace("ann@example.org", "X") == \
        unknown.get_data(as_text=True).replace("nobody@example.org", "X")
    assert len(pickup_messages(config)) == before + 1  # only the real account got mail
    assert not [p for p in config.pickup.dir.iterdir() if not p.name.endswith(".eml")]


def test_form_without_csrf_token_is_refused(client, config):
    response = client.post("/account/register", data={
        "display_name": "Ann", "email": "ann@example.org", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 400
    assert pickup_messages(config) == []


def test_reset_requests_are_rate_limited_per_address_and_then_write_nothing(client, config):
    activated_member(client, config)
    before = len(pickup_messages(config))
    codes = [post_form(client, "/account/reset", email="ann@example.org").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert len(pickup_messages(config)) == before + 3
    limited = post_form(client, "/account/reset", email="ann@example.org")
    assert "Too many requests" in limited.get_data(as_text=True)


def test_reset_requests_are_rate_limited_per_client(client, config):
    codes = [post_form(client, "/account/reset", email=f"n{i}@example.org").status_code
             for i in range(22)]
    assert codes.count(429) == 2 and codes[:20] == [200] * 20


@pytest.mark.parametrize("name", [
    "Eve\r\nBcc: victim@example.org",
    "Eve\nSubject: pwned",
    "<script>alert(1)</script>",
    "Eve\u2028Bcc: victim@example.org",
])
def test_hostile_display_names_cannot_break_headers_or_html(app, client, config, name):
    activated_member(client, config, name=name)
    post_form(client, "/account/reset", email="ann@example.org")
    [_, raw] = pickup_messages(config)  # the reset mail: an active account's mail shows its name
    parsed = parse_pickup(raw)
    assert parsed.recipients == ("ann@example.org",)
    msg = message_from_bytes(parsed.content.replace(b"\r\n", b"\n"), policy=default)
    assert msg["Bcc"] is None and msg["Subject"] == "Reset your password"
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html
    if "<script>" in name:
        assert "&lt;script&gt;" in html
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert "\n" not in user.display_name and "\r" not in user.display_name


def test_logout_needs_a_post_with_csrf(client, config):
    activated_member(client, config)
    login(client)
    assert client.get("/account/logout").status_code == 405
    token = csrf_token(client, "/")
    assert client.post("/account/logout", data={"csrf_token": token}).status_code == 302
    assert "Welcome back" not in client.get("/").get_data(as_text=True)


def test_a_bad_mail_from_stops_the_site_at_start(config):
    from settings import ConfigError
    from webapp import create_app

    bad = replaced(config, webapp={"mail_from": "Q&A <noreply@example.test>\nBcc: victim@example.org"})
    with pytest.raises(ConfigError, match="mail_from"):
        create_app(bad)


@pytest.mark.parametrize("path", ["/account/login", "/account/register"])
def test_a_logged_in_member_opening_login_or_sign_up_goes_home(client, config, path):
    activated_member(client, config)
    login(client)
    response = client.get(path)
    assert response.status_code == 302 and response.location == "/"


def email_field_value(page: str) -> str | None:
    field = re.search(r'<input[^>]*id="email"[^>]*>', page).group(0)
    value = re.search(r'value="([^"]*)"', field)
    return value.group(1) if value and value.group(1) else None


def test_after_activation_the_login_form_has_the_address_filled_in(client, config):
    register(client)
    page = activate(client, link_in(pickup_messages(config)[0], "activate"))
    page = client.get(page.location)
    assert email_field_value(page.get_data(as_text=True)) == "ann@example.org"
    assert email_field_value(client.get("/account/login").get_data(as_text=True)) is None  # once


def test_not_active_yet_leads_to_the_resend_form_with_the_address_filled_in(client, config):
    register(client)
    page = login(client)
    assert page.location == "/account/activate"
    assert email_field_value(client.get(page.location).get_data(as_text=True)) == "ann@example.org"


def test_a_new_password_logs_in_at_once(client, config):
    activated_member(client, config)
    post_form(client, "/account/reset", email="ann@example.org")
    changed = choose_password(client, link_in(pickup_messages(config)[-1], "reset"), "a brand new secret")
    assert changed.location == "/" and "Welcome back, Ann" in client.get("/").get_data(as_text=True)


@pytest.fixture
def full_pickup(config):
    """The pickup folder on a real 64 KiB tmpfs, filled up: every mail write fails (ENOSPC)."""
    import subprocess

    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(config.pickup.dir)],
                      capture_output=True).returncode != 0:
        pytest.skip("needs to mount a tmpfs (root)")
    try:
        fd = os.open(config.pickup.dir / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        yield config.pickup.dir
    finally:
        subprocess.run(["umount", str(config.pickup.dir)], check=True)


def test_registration_with_a_full_pickup_folder_makes_no_account_and_says_so(app, client, full_pickup):
    response = register(client)
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "We could not send your activation email" in page and "no account was created" in page
    with app.app_context():
        assert db.session.execute(db.select(User)).first() is None
    assert sorted(p.name for p in full_pickup.iterdir()) == ["filler"]  # no half-written file


def test_a_taken_address_with_a_full_pickup_folder_gets_the_same_503_page(app, client, config, full_pickup):
    with app.app_context():
        user = User(email="ann@example.org", display_name="Ann")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    taken = register(client)
    fresh = register(client, email="new@example.org")
    assert taken.status_code == fresh.status_code == 503
    assert taken.get_data(as_text=True) == fresh.get_data(as_text=True)


def test_reset_and_resend_with_a_full_pickup_folder_answer_503(client, full_pickup):
    for path in ("/account/reset", "/account/activate"):
        response = post_form(client, path, email="nobody@example.org")
        assert response.status_code == 503 and "We could not send your" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "/\t/evil.example", "javascript:alert(1)", ""])
def test_logging_in_never_leads_off_the_site(client, config, target):
    activated_member(client, config)
    response = post_form(client, "/account/login?" + urlencode({"next": target}),
                         email="ann@example.org", password=PASSWORD)
    assert response.status_code == 302 and response.location == "/"


def test_two_registrations_of_one_name_racing_for_its_handle_both_make_accounts(app, client, config):
    """Another request takes @ada_lovelace between this one's choice of it and its insert: this
    one takes the next handle and still makes its account and its activation mail."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from webapp.accounts.models import User
    from webapp.site.extensions import db

    def rival_registers(session, _context, _instances):
        if getattr(rival_registers, "done", False) or session.info.get("rival"):
            return
        rival_registers.done = True
        with Session(db.engine, info={"rival": True}) as other:
            rival = User(email="rival@example.org", display_name="Ada Lovelace", handle="ada_lovelace")
            rival.set_password(PASSWORD)
            other.add(rival)
            other.commit()

    event.listen(Session, "before_flush", rival_registers)
    try:
        response = register(client, email="ada@example.org", name="Ada Lovelace")
    finally:
        event.remove(Session, "before_flush", rival_registers)
    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    with app.app_context():
        assert User.by_email("ada@example.org").handle == "ada_lovelace2"
    assert [parse_pickup(raw).recipients for raw in pickup_messages(config)] == [("ada@example.org",)]
