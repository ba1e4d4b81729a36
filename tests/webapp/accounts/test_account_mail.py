"""What account mail says, and to whom: no stranger's words in mail to an unconfirmed address."""

from __future__ import annotations

from tests.webapp.accounts.test_auth import activated_member, mail, register
from tests.webapp.conftest import pickup_messages, post_form

PHISHING = "URGENT your bank account is locked call +1 555 0100 now or visit evil.example"


def test_activation_mail_leaves_out_the_display_name_anyone_could_have_typed(client, config):
    register(client, name=PHISHING)
    [raw] = pickup_messages(config)
    message = mail(raw)
    assert message["To"] == "ann@example.org"
    assert "URGENT" not in raw.decode() and "evil" not in raw.decode()
    assert message.get_body(("plain",)).get_content().startswith("Hello,\n")


def test_mail_to_an_activated_account_greets_its_owner_by_name(client, config):
    activated_member(client, config, name="Ann Smith")
    post_form(client, "/account/reset", email="ann@example.org")
    message = mail(pickup_messages(config)[-1])
    assert message["To"] == "Ann Smith <ann@example.org>"
    assert message.get_body(("plain",)).get_content().startswith("Hello Ann Smith,\n")


def test_asking_to_activate_an_active_account_mails_how_to_log_in(client, config):
    activated_member(client, config)
    before = len(pickup_messages(config))
    post_form(client, "/account/activate", email="ann@example.org")
    [reminder] = pickup_messages(config)[before:]
    assert mail(reminder)["Subject"] == "You already have an account"
    assert "/account/activate/" not in mail(reminder).get_body(("plain",)).get_content()


def test_the_html_part_lets_a_long_link_wrap(client, config):
    register(client)
    html = mail(pickup_messages(config)[0]).get_body(("html",)).get_content()
    assert "word-break: break-all" in html and "max-width: 560px" in html
