"""Account mail: render the text and HTML templates and put the message in pickup.

Every mail of this module is transactional and written durably through the
spooler, never sent over SMTP from the request. Reads [webapp] mail_from and
base_url and [pickup] dir (webapp.site.outgoing writes). Fails with spooler.pickup.PickupError when the mail
cannot be placed (nothing is then left in pickup).

A display name appears only in mail to an activated account: anyone can register
someone else's address with a "name" that reads like a message, so mail to an
unconfirmed address says only what the site itself wrote. Where it appears it is
made single-line before it reaches a header and is escaped by Jinja in the HTML part.
"""

from __future__ import annotations

from flask import render_template

from spooler.envelope import single_line
from spooler.message import Address, Notification, OutgoingMessage, build
from webapp.accounts.models import User
from webapp.accounts.tokens import (
    activation_max_age,
    make_activation_token,
    make_email_change_token,
    make_reset_token,
)
from webapp.site import outgoing
from webapp.site.config import site_config
from webapp.site.links import external_url

ACCOUNT_SUBJECTS = {
    "activation": "Activate your account",
    "password_reset": "Reset your password",
    "already_registered": "You already have an account",
    "email_change": "Confirm your new address",
    "email_change_notice": "Your address is being changed",
}


def send_activation(user: User) -> None:
    link = external_url("auth.activate", token=make_activation_token(user))
    outgoing.write_transactional(_render("activation", user.email, "", link=link, hours=_activation_hours()))


def send_password_reset(user: User) -> None:
    link = external_url("auth.reset_password", token=make_reset_token(user))
    outgoing.write_transactional(_render("password_reset", user.email, _confirmed_name(user), link=link))


def send_already_registered(user: User) -> None:
    """To an address someone tried to register again: log in, reset, or (not active yet) activate."""
    link = external_url("auth.activate", token=make_activation_token(user)) \
        if not user.is_activated else None
    outgoing.write_transactional(_render("already_registered", user.email, _confirmed_name(user), link=link,
                   hours=_activation_hours(), login=external_url("auth.login"),
                   reset=external_url("auth.forgot_password")))


def send_email_change(user: User) -> None:
    """To the new address (user.pending_email): the link that makes the change."""
    link = external_url("member_settings.confirm_email", token=make_email_change_token(user))
    outgoing.write_transactional(_render("email_change", user.pending_email, "", link=link,
                                         hours=_activation_hours()))


def send_email_change_notice(user: User) -> None:
    """To the current address: a change was asked for; nothing happens until it is confirmed."""
    outgoing.write_transactional(_render("email_change_notice", user.email, _confirmed_name(user),
                   new_address=user.pending_email, settings=external_url("member_settings.index"),
                   reset=external_url("auth.forgot_password")))


def rehearse(kind: str) -> None:
    """The work of sending `kind` (a key of ACCOUNT_SUBJECTS) with nothing sent, for an address
    with no account: the answer then takes as long either way."""
    link = external_url("auth.activate", token="x" * 60)
    message = _render(kind, "nobody@invalid.example", "", link=link, hours=_activation_hours(),
                      login=external_url("auth.login"), reset=external_url("auth.forgot_password"))
    outgoing.pickup_writer().rehearse(message)


def _confirmed_name(user: User) -> str:
    return user.display_name if user.is_activated else ""


def _activation_hours() -> int:
    return activation_max_age() // 3600


def _render(kind: str, address: str, display_name: str, **context) -> OutgoingMessage:
    name = single_line(display_name)
    context.update(name=name, site_url=site_config().webapp.base_url)
    return build(Notification(
        sender=outgoing.sender(),
        to=[Address(address, name)],
        subject=ACCOUNT_SUBJECTS[kind],
        text=render_template(f"email/{kind}.txt", **context),
        html=render_template(f"email/{kind}.html", **context),
        message_id=outgoing.new_message_id(),
    ))

