"""A new address by link: confirmed only by the member, logged in; cancelled by every defence of
the owner (a new password, a reset, logging out everywhere, an admin disabling the account) and
by the "this was not me" link in the notice to the old address."""

from __future__ import annotations

from tests.webapp.accounts.test_auth import PASSWORD, login, mail
from tests.webapp.admin.test_moderation import admin
from tests.webapp.conftest import choose_password, csrf_token, link_in, pickup_messages, post_form
from tests.webapp.qa_helpers import member, press
from webapp.accounts.models import User
from webapp.site.extensions import db

SETTINGS = "/account/settings"
NEW = "eve@example.org"   # the mailbox of whoever asks to move Ann's account


def ask_for(client, config, address=NEW, password=PASSWORD):
    """Ask for a new address as `client`; the two mails: (confirmation link path, notice)."""
    before = len(pickup_messages(config))
    response = client.post(f"{SETTINGS}/email", data={"csrf_token": csrf_token(client, SETTINGS),
                                                      "email": address, "current_password": password})
    assert response.status_code == 200, response.get_data(as_text=True)
    by_recipient = {mail(raw)["To"].addresses[0].addr_spec: raw for raw in pickup_messages(config)[before:]}
    return link_in(by_recipient[address], "settings/email"), by_recipient["ann@example.org"]


def confirm(client, link: str):
    """Open a confirmation link and press the button on the page it opens, if it opens one."""
    opened = client.get(link)
    if opened.status_code != 302 or not opened.location.endswith("/account/settings/email/confirm"):
        return opened
    page = client.get(opened.location)
    if page.status_code != 200:
        return page
    return post_form(client, opened.location)


def change_password(client, new="a new passphrase"):
    return client.post(f"{SETTINGS}/password", data={
        "csrf_token": csrf_token(client, SETTINGS), "current_password": PASSWORD, "password": new,
        "confirm": new})


def address(app) -> tuple[str, str | None]:
    """Ann's address and the one waiting for its link."""
    with app.app_context():
        ann = db.session.execute(db.select(User).filter_by(display_name="Ann")).scalar_one()
        return ann.email, ann.pending_email


def assert_cancelled_for_good(app, client, link: str) -> None:
    """The change is gone, and its link no longer works, even for Ann, logged in again."""
    assert address(app) == ("ann@example.org", None)
    login(client)
    assert confirm(client, link).status_code == 400
    assert address(app) == ("ann@example.org", None)


def test_the_member_logged_in_confirms_a_new_address_on_the_page_the_link_opens(app, config):
    ann = member(app, config, "Ann")
    link, _notice = ask_for(ann, config)
    opened = ann.get(link)
    assert opened.status_code == 302 and opened.location == "/account/settings/email/confirm"
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    page = ann.get(opened.location).get_data(as_text=True)
    assert NEW in page and address(app) == ("ann@example.org", NEW)  # opening is not confirming
    assert post_form(ann, opened.location).status_code == 302
    assert address(app) == (NEW, None)
    assert login(app.test_client(), email=NEW).status_code == 302


def test_a_new_address_changes_only_once_and_logs_in_from_then_on(app, config):
    ann = member(app, config, "Ann")
    link, notice = ask_for(ann, config)
    text = mail(notice).get_body(("plain",)).get_content()
    assert NEW in text and link not in text   # the notice cannot make the change
    assert confirm(ann, link).status_code == 302
    assert address(app) == (NEW, None)
    assert confirm(ann, link).status_code == 400   # once
    assert login(app.test_client(), email=NEW).status_code == 302
    assert "do not match" in login(app.test_client()).get_data(as_text=True)


def test_a_new_address_taken_meanwhile_is_not_applied(app, config):
    ann = member(app, config, "Ann")
    link, _notice = ask_for(ann, config, address="bob@example.org")
    member(app, config, "Bob")
    response = confirm(ann, link)
    assert response.status_code == 409 and "Another account" in response.get_data(as_text=True)
    assert address(app) == ("ann@example.org", None)


def test_a_confirmation_link_opened_without_a_login_changes_nothing_until_the_member_logs_in(app, config):
    ann = member(app, config, "Ann")
    link, _notice = ask_for(ann, config)
    elsewhere = app.test_client()   # the new mailbox's reader, in a browser where nobody is logged in
    response = confirm(elsewhere, link)
    assert response.status_code == 302 and response.location.startswith("/account/login")
    assert address(app) == ("ann@example.org", NEW)
    assert login(elsewhere).status_code == 302
    assert confirm(elsewhere, link).status_code == 302
    assert address(app) == (NEW, None)


def test_another_member_logged_in_cannot_confirm_someone_elses_new_address(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    link, _notice = ask_for(ann, config)
    response = confirm(bob, link)
    assert response.status_code == 403
    assert address(app) == ("ann@example.org", NEW)


def test_a_password_change_cancels_a_pending_address_change(app, config):
    ann = member(app, config, "Ann")
    link, _notice = ask_for(ann, config)
    assert change_password(ann).status_code == 302
    assert address(app) == ("ann@example.org", None)
    assert confirm(ann, link).status_code == 400   # even by the member, logged in
    assert address(app) == ("ann@example.org", None)


def test_a_password_reset_cancels_a_pending_address_change(app, config):
    ann = member(app, config, "Ann")
    link, _notice = ask_for(ann, config)
    post_form(app.test_client(), "/account/reset", email="ann@example.org")
    choose_password(app.test_client(), link_in(pickup_messages(config)[-1], "reset"), "a new passphrase")
    assert address(app) == ("ann@example.org", None)
    again = app.test_client()
    login(again, password="a new passphrase")
    assert confirm(again, link).status_code == 400
    assert address(app) == ("ann@example.org", None)


def test_logging_out_everywhere_cancels_a_pending_address_change(app, config):
    ann = member(app, config, "Ann")
    link, _notice = ask_for(ann, config)
    assert press(ann, "/account/sessions", "/account/sessions/end-all").status_code == 302
    assert address(app) == ("ann@example.org", None)
    assert_cancelled_for_good(app, ann, link)


def test_disabling_a_member_cancels_their_pending_address_change(app, config):
    ann = member(app, config, "Ann")
    link, _notice = ask_for(ann, config)
    root = admin(app)
    with app.app_context():
        ann_id = User.by_email("ann@example.org").id
    press(root, "/admin/members", f"/admin/members/{ann_id}/disable")
    assert address(app) == ("ann@example.org", None)
    press(root, "/admin/members", f"/admin/members/{ann_id}/enable")
    assert_cancelled_for_good(app, ann, link)


def not_me_link(notice: bytes) -> str:
    return link_in(notice, "settings/email")


def test_the_notice_to_the_old_address_cancels_the_change_without_a_login(app, config):
    ann = member(app, config, "Ann")
    link, notice = ask_for(ann, config)
    assert "this was not me" in mail(notice).get_body(("plain",)).get_content().lower()
    owner = app.test_client()    # reading the mail, logged in nowhere
    opened = owner.get(not_me_link(notice))
    assert opened.status_code == 302 and opened.headers["Referrer-Policy"] == "no-referrer"
    page = owner.get(opened.location)
    assert page.status_code == 200 and NEW in page.get_data(as_text=True)
    assert address(app) == ("ann@example.org", NEW)   # a mail scanner's prefetch cancels nothing
    assert post_form(owner, opened.location).status_code == 302
    assert address(app) == ("ann@example.org", None)
    assert ann.get(SETTINGS).status_code == 302        # whoever asked is logged out
    assert_cancelled_for_good(app, ann, link)


def test_after_this_was_not_me_the_owner_chooses_a_new_password_at_once(app, config):
    ann = member(app, config, "Ann")
    _link, notice = ask_for(ann, config)
    owner = app.test_client()
    opened = owner.get(not_me_link(notice))
    cancelled = post_form(owner, opened.location)
    assert cancelled.location == "/account/new-password"
    assert post_form(owner, cancelled.location, password="only I know this",
                     confirm="only I know this").status_code == 302
    assert login(app.test_client(), password="only I know this").status_code == 302
    assert "do not match" in login(app.test_client()).get_data(as_text=True)


def test_an_old_password_no_longer_moves_the_account_once_the_owner_changed_it(app, config):
    """The chain as reproduced: someone who once had Ann's password asks to move the account to
    their mailbox; Ann reads the notice, changes her password and logs out everywhere; the other
    party opens the link within 48 hours, in the browser where they were logged in as Ann."""
    ann = member(app, config, "Ann")
    eve = app.test_client()
    assert login(eve).status_code == 302
    link, notice = ask_for(eve, config)
    assert NEW in mail(notice).get_body(("plain",)).get_content()
    change_password(ann)
    press(ann, "/account/sessions", "/account/sessions/end-all")
    confirm(eve, link)
    assert address(app) == ("ann@example.org", None)
    assert login(app.test_client(), email=NEW, password="a new passphrase").status_code == 200
    assert "do not match" in login(eve).get_data(as_text=True)
    assert login(app.test_client(), password="a new passphrase").status_code == 302  # Ann gets in


def test_logging_in_from_the_link_leads_back_to_the_confirmation_page(app, config):
    ann = member(app, config, "Ann")
    link, _notice = ask_for(ann, config)
    elsewhere = app.test_client()
    asked = confirm(elsewhere, link)
    assert asked.location == "/account/login?next=%2Faccount%2Fsettings%2Femail%2Fconfirm"
    logged_in = post_form(elsewhere, asked.location, email="ann@example.org", password=PASSWORD)
    assert logged_in.location == "/account/settings/email/confirm"
    assert NEW in elsewhere.get(logged_in.location).get_data(as_text=True)
