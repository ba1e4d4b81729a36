"""The newsletter as members get it: a readable text part (links as footnotes), one
greeting, and only to members who asked for it (opt-in when registering)."""

from __future__ import annotations

from tests.webapp.accounts.test_auth import PASSWORD
from tests.webapp.conftest import post_form
from tests.webapp.mail.test_newsletter import admin_client, members, newsletter_files, send
from tests.webapp.mail.test_outbox import fan_out
from webapp.accounts.models import User
from webapp.site.extensions import db

LINKED = "Our [new rules](https://example.org/rules) are out: see [the FAQ](/faq).\n\nThanks!"


def parts(mail) -> tuple[str, str]:
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return text, mail.get_body(("html",)).get_content()


def mail_to(config, email: str):
    return next(m for m in newsletter_files(config) if email in str(m["To"]))


def test_the_text_part_is_readable_text_with_numbered_links(app, config):
    ada = admin_client(app, config)
    members(app, 1)
    send(ada, "send", body=LINKED)
    fan_out(app)
    text, _html = parts(mail_to(config, "m0-True@example.org"))
    assert "Our new rules [1] are out: see the FAQ [2].\n\nThanks!" in text
    assert "[1] https://example.org/rules\n[2] http://qa.example.test/faq" in text
    assert "](" not in text and "**" not in text


def test_a_text_that_greets_gets_no_second_greeting(app, config):
    ada = admin_client(app, config)
    members(app, 1)
    send(ada, "send", body="Hello members,\n\nThe site is one year old.")
    send(ada, "send", subject="Second", body="The site is two years old.")
    fan_out(app)
    greeted, plain = (m for m in newsletter_files(config) if "m0-" in str(m["To"]))
    text, html = parts(greeted)
    assert text.startswith("Hello members,\n\nThe site is one year old.") and "Hello Member 0" not in html
    text, html = parts(plain)
    assert text.startswith("Hello Member 0,\n\nThe site is two years old.") and "Hello Member 0," in html


def test_new_members_get_the_newsletter_only_when_they_tick_the_box(app, config):
    for name, ticked in (("Ann", {"newsletter": "y"}), ("Bob", {})):
        post_form(app.test_client(), "/account/register", display_name=name, email=f"{name}@example.org",
                  password=PASSWORD, confirm=PASSWORD, **ticked)
    members(app, 1, newsletter=False)   # a member of before who turned it off keeps it off
    with app.app_context():
        chosen = dict(db.session.execute(db.select(User.display_name, User.newsletter)).all())
    assert chosen == {"Ann": True, "Bob": False, "Member 0": False}
