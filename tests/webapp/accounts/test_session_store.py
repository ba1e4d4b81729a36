"""Login sessions kept on the server: logout, lifetime, idle timeout, the sessions page."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.webapp.accounts.test_auth import activated_member, login
from tests.webapp.conftest import csrf_token, pickup_messages, reconfigure
from webapp.accounts.models import LoginSession
from webapp.site.database import utcnow
from webapp.site.extensions import db


def logged_in(client) -> bool:
    return "Welcome back" in client.get("/").get_data(as_text=True)


def copy_cookie(source, target) -> None:
    target.set_cookie("session", source.get_cookie("session").value)


def browser(app, agent: str):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    return client


def member_logged_in(app, config, agent="Firefox on the laptop"):
    client = browser(app, agent)
    activated_member(client, config)
    login(client)
    assert logged_in(client)
    return client


def test_a_copied_cookie_stops_working_when_its_owner_logs_out(app, config):
    client = member_logged_in(app, config)
    thief = app.test_client()
    copy_cookie(client, thief)
    assert logged_in(thief)
    client.post("/account/logout", data={"csrf_token": csrf_token(client, "/")})
    assert not logged_in(client)
    assert not logged_in(thief)


def test_each_login_is_its_own_session_and_logging_out_ends_only_that_one(app, config):
    laptop = member_logged_in(app, config)
    phone = app.test_client()
    login(phone)
    laptop.post("/account/logout", data={"csrf_token": csrf_token(laptop, "/")})
    assert logged_in(phone) and not logged_in(laptop)


def test_the_database_holds_only_a_hash_of_the_cookies_key(app, config):
    client = member_logged_in(app, config)
    cookie = client.get_cookie("session").value
    with app.app_context():
        [row] = db.session.execute(db.select(LoginSession)).scalars().all()
        assert len(row.key_hash) == 64 and row.key_hash not in cookie


def _age_sessions(app, **ago) -> None:
    with app.app_context():
        past = utcnow() - timedelta(**ago)
        db.session.execute(db.update(LoginSession).values(created_at=past, last_seen_at=past))
        db.session.commit()


def test_a_session_ends_after_the_session_lifetime(app, config):
    client = member_logged_in(app, config)
    _age_sessions(app, days=13, hours=23)
    assert logged_in(client)
    _age_sessions(app, days=14, minutes=1)
    assert not logged_in(client)
    with app.app_context():  # the dead row is gone, not just ignored
        assert db.session.execute(db.select(LoginSession)).first() is None


def test_an_idle_timeout_when_set_ends_a_session_left_unused(app, config):
    client = member_logged_in(app, config)
    _age_sessions(app, minutes=20)
    assert logged_in(client)  # no idle timeout by default; this request counts as use
    reconfigure(app, session_idle_timeout=30 * 60)
    _age_sessions(app, minutes=20)
    assert logged_in(client)
    _age_sessions(app, minutes=31)
    assert not logged_in(client)


def test_using_a_session_updates_its_last_seen_time(app, config):
    client = member_logged_in(app, config)
    _age_sessions(app, hours=3)
    client.get("/")
    with app.app_context():
        row = db.session.execute(db.select(LoginSession)).scalar_one()
        assert utcnow() - row.last_seen_at < timedelta(minutes=1)
        assert utcnow() - row.created_at > timedelta(hours=2)


FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_ON_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


def test_the_sessions_page_lists_each_browser_and_marks_this_one(app, config):
    laptop = member_logged_in(app, config, agent=FIREFOX_ON_LINUX)
    phone = browser(app, SAFARI_ON_IPHONE)
    login(phone)
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert "Firefox on Linux</strong> <span class=\"this\">(this browser)" in page
    assert "Mobile Safari on iOS</strong>" in page and page.count("Logged in ") == 2


def test_the_sessions_page_needs_a_login(client):
    response = client.get("/account/sessions")
    assert response.status_code == 302 and "/account/login" in response.location


def test_ending_another_session_from_the_page_logs_that_browser_out(app, config):
    laptop = member_logged_in(app, config)
    phone = browser(app, "Safari on the phone")
    login(phone)
    page = laptop.get("/account/sessions").get_data(as_text=True)
    ids = re.findall(r'action="/account/sessions/(\d+)/end"', page)
    with app.app_context():
        phone_id = db.session.execute(db.select(LoginSession.id).filter_by(
            user_agent="Safari on the phone")).scalar_one()
    assert str(phone_id) in ids
    laptop.post(f"/account/sessions/{phone_id}/end", data={"csrf_token": csrf_token(laptop, "/")})
    assert not logged_in(phone) and logged_in(laptop)


def test_log_out_everywhere_ends_every_session_this_one_included(app, config):
    laptop = member_logged_in(app, config)
    phone = app.test_client()
    login(phone)
    response = laptop.post("/account/sessions/end-all", data={"csrf_token": csrf_token(laptop, "/")})
    assert response.status_code == 302
    assert not logged_in(laptop) and not logged_in(phone)
    with app.app_context():
        assert db.session.execute(db.select(LoginSession)).first() is None


def test_a_member_cannot_end_someone_elses_session(app, config):
    ann = member_logged_in(app, config)
    bob = app.test_client()
    activated_member(bob, config, email="bob@example.org")
    login(bob, email="bob@example.org")
    with app.app_context():
        ann_id = db.session.execute(db.select(LoginSession.id).order_by(LoginSession.id)).scalars().first()
    bob.post(f"/account/sessions/{ann_id}/end", data={"csrf_token": csrf_token(bob, "/")})
    assert logged_in(ann) and logged_in(bob)
    assert len(pickup_messages(config)) == 2
