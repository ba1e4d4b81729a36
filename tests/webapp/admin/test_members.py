"""Admins find members, see their flags, resend activation, disable and enable accounts."""

from __future__ import annotations

import logging
import re

from tests.webapp.accounts.test_activation import act_on
from tests.webapp.accounts.test_auth import login, register
from tests.webapp.admin.test_moderation import admin
from tests.webapp.conftest import choose_password, link_in, pickup_messages, post_form
from tests.webapp.mail.test_outbox import fan_out, follow, outcomes, set_member
from tests.webapp.qa_helpers import answer, ask, member, press
from webapp.accounts.models import User
from webapp.site.database import utcnow
from webapp.site.extensions import db

PAGE = "/admin/members"


def user_id(app, email: str) -> int:
    with app.app_context():
        return User.by_email(email).id


def listed(client, **args) -> str:
    response = client.get(PAGE, query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def flags(page: str) -> list[str]:
    """The flags shown on a page of members, dates left out: ["Activated", "Admin"]."""
    shown = re.findall(r'<span class="flag[^"]*">(.*?)</span>', page, re.S)
    return [re.sub(r"\s*(<time.*?</time>|by \S+)", "", flag).strip() for flag in shown]


def test_search_finds_members_by_address_and_by_name_in_any_case(app, config):
    member(app, config, "Ann")
    member(app, config, "Bob")
    root = admin(app)
    by_address = listed(root, q="ANN@EXAMPLE")
    assert "ann@example.org" in by_address and "bob@example.org" not in by_address
    by_name = listed(root, q="bo")
    assert "bob@example.org" in by_name and "ann@example.org" not in by_name
    everyone = listed(root)
    assert all(f"{n}@example.org" in everyone for n in ("ann", "bob", "root"))
    assert "No member matches" in listed(root, q="%")  # a typed % is only itself


def test_the_list_is_keyset_paged_newest_first(app, config):
    root = admin(app)
    with app.app_context():
        for n in range(25):
            db.session.add(User(email=f"m{n:02}@example.org", display_name=f"M{n}", password_hash="x"))
        db.session.commit()
    first = listed(root, q="@example.org")
    assert "m24@example.org" in first and "m05@example.org" in first and "m04@example.org" not in first
    assert 'rel="next"' in first
    before = user_id(app, "m05@example.org")
    second = listed(root, q="@example.org", before=before)
    assert "m04@example.org" in second and "m05@example.org" not in second


def test_the_flags_show_activated_bouncing_admin_and_disabled(app, config):
    member(app, config, "Ann")
    register(app.test_client(), email="new@example.org", name="New")
    root = admin(app)
    set_member(app, "Ann", bouncing_at=utcnow())
    assert flags(listed(root, q="ann@")) == ["Activated", "Bouncing since"]
    new = listed(root, q="new@")
    assert flags(new) == ["Not activated"] and "Resend activation" in new
    assert flags(listed(root, q="root@")) == ["Activated", "Admin"]
    assert "new@example.org" in listed(root, show="inactive")
    assert "ann@example.org" not in listed(root, show="inactive")
    bouncing = listed(root, show="bouncing")
    assert "ann@example.org" in bouncing and "new@example.org" not in bouncing
    press(root, PAGE, f"{PAGE}/{user_id(app, 'ann@example.org')}/disable")
    disabled = listed(root, show="disabled")
    assert flags(disabled) == ["Activated", "Bouncing since", "Disabled"]
    assert "ann@example.org" in disabled and "by root@example.org" in disabled


def test_resend_leads_to_choosing_the_password_so_whoever_registered_the_address_cannot_log_in(app, config):
    register(app.test_client(), email="new@example.org", name="New", password="not the owner's")
    root = admin(app)
    before = len(pickup_messages(config))
    response = press(root, PAGE, f"{PAGE}/{user_id(app, 'new@example.org')}/resend-activation")
    assert response.status_code == 302
    messages = pickup_messages(config)
    assert len(messages) == before + 1
    act_on(app.test_client(), messages[-1], password="the owner's own")
    assert login(app.test_client(), email="new@example.org", password="not the owner's").status_code == 200
    assert login(app.test_client(), email="new@example.org", password="the owner's own").location == "/"


def test_resend_is_refused_for_an_active_member(app, config):
    member(app, config, "Ann")
    root = admin(app)
    before = len(pickup_messages(config))
    press(root, PAGE, f"{PAGE}/{user_id(app, 'ann@example.org')}/resend-activation")
    assert len(pickup_messages(config)) == before
    assert "already active" in root.get(PAGE).get_data(as_text=True)


def test_disabling_ends_an_open_session_and_blocks_login_even_after_a_new_password(app, config, caplog):
    ann = member(app, config, "Ann")
    root = admin(app)
    ann_id = user_id(app, "ann@example.org")
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        press(root, PAGE, f"{PAGE}/{ann_id}/disable")
    assert "admin Root <root@example.org> disabled member ann@example.org" in caplog.text
    assert ann.get("/account/sessions").status_code == 302   # to the login form: logged out
    refused = login(app.test_client())
    assert refused.status_code == 200 and "disabled" in refused.get_data(as_text=True)
    wrong = login(app.test_client(), password="not the password")
    assert "disabled" not in wrong.get_data(as_text=True)   # who has an account stays unsaid
    post_form(app.test_client(), "/account/reset", email="ann@example.org")
    owner = app.test_client()
    chosen = choose_password(owner, link_in(pickup_messages(config)[-1], "reset"), "a new passphrase")
    assert chosen.location == "/account/login"          # a reset logs in, but not a disabled member
    assert "disabled" in owner.get(chosen.location).get_data(as_text=True)
    assert owner.get("/account/sessions").status_code == 302
    assert "disabled" in login(app.test_client(), password="a new passphrase").get_data(as_text=True)
    press(root, PAGE, f"{PAGE}/{ann_id}/enable")
    assert login(app.test_client(), password="a new passphrase").status_code == 302


def test_a_disabled_member_is_left_out_of_a_fan_out_as_disabled(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    member(app, config, "Cat")
    root = admin(app)
    question_id = ask(ann)
    follow(app, "Cat", "question", question_id)
    press(root, PAGE, f"{PAGE}/{user_id(app, 'cat@example.org')}/disable")
    answer(bob, question_id)
    assert fan_out(app) == 1
    assert outcomes(app) == {"Ann": "sent", "Bob": "author", "Cat": "disabled"}


def test_an_admin_cannot_disable_themselves(app, config):
    root = admin(app)
    response = press(root, PAGE, f"{PAGE}/{user_id(app, 'root@example.org')}/disable")
    assert response.status_code == 302
    assert "cannot disable your own account" in root.get(PAGE).get_data(as_text=True)
    with app.app_context():
        assert not User.by_email("root@example.org").is_disabled


ACTIONS = ["resend-activation", "disable", "enable"]


def test_members_who_are_not_admins_get_403_everywhere(app, config):
    bob = member(app, config, "Bob")
    member(app, config, "Ann")
    ann_id = user_id(app, "ann@example.org")
    assert bob.get(PAGE).status_code == 403
    assert bob.get(PAGE, query_string={"q": "ann", "show": "bouncing"}).status_code == 403
    for action in ACTIONS:
        assert press(bob, "/", f"{PAGE}/{ann_id}/{action}").status_code == 403
    assert "/admin/members" not in bob.get("/").get_data(as_text=True)
    visitor = app.test_client()
    assert "/account/login" in visitor.get(PAGE).location
    with app.app_context():
        assert not User.by_email("ann@example.org").is_disabled


def test_every_members_form_refuses_a_post_without_its_csrf_token(app, config):
    member(app, config, "Ann")
    root = admin(app)
    ann_id = user_id(app, "ann@example.org")
    for action in ACTIONS:
        assert root.post(f"{PAGE}/{ann_id}/{action}").status_code == 400, action
    with app.app_context():
        assert not User.by_email("ann@example.org").is_disabled


def test_the_top_bar_links_admins_to_the_members_page(app, config):
    assert 'href="/admin/members"' in admin(app).get("/").get_data(as_text=True)
