"""Account mail: render the text and HTML templates and put the message in pickup.

Every mail of this module is transactional and written durably through the
spooler, never sent over SMTP from the request. Reads [webapp] mail_from,
base_url and bounce_address (the envelope sender names the member and the kind of mail:
webapp.site.return_path) and [pickup] dir (webapp.site.outgoing writes). Fails with AccountMailFailed (a
spooler.pickup.PickupError) when the mail cannot be placed (nothing is then left in
pickup); the account pages answer it with 503 "we could not send your ... email".

A display name appears only in mail to an activated account: anyone can register
someone else's address with a "name" that reads like a message, so mail to an
unconfirmed address says only what the site itself wrote. Where it appears it is
made single-line before it reaches a header and is escaped by Jinja in the HTML part.
"""

from __future__ import annotations

from flask import render_template

from spooler.envelope import single_line
from spooler.message import Address, Notification, OutgoingMessage, build
from spooler.pickup import PickupError
from webapp.accounts import tokens
from webapp.accounts.models import User
from webapp.site import outgoing
from webapp.site.config import site_config
from webapp.site.links import external_url
from webapp.site.return_path import ReturnKind, envelope_sender

ACCOUNT_SUBJECTS = {
    "activation": "Activate your account",
    "choose_password": "Activate your account: choose its password",
    "password_reset": "Reset your password",
    "already_registered": "You already have an account",
    "email_change": "Confirm your new address",
    "email_change_notice": "Your address is being changed",
}
# Each kind's number in its return path (webapp.site.return_path): append new kinds, never reorder.
RETURN_NUMBERS = {kind: number for number, kind in enumerate(ACCOUNT_SUBJECTS, start=1)}
# Each mail as the person who asked for it names it ("we could not send your ... email").
ASKED_FOR = {"activation": "activation", "choose_password": "activation", "already_registered": "activation",
             "password_reset": "password reset", "email_change": "confirmation",
             "email_change_notice": "confirmation"}


class AccountMailFailed(PickupError):
    """Pickup refused an account mail; `asked_for` names it as the person who asked would."""

    def __init__(self, kind: str, error: PickupError):
        super().__init__(str(error))
        self.asked_for = ASKED_FOR[kind]


def send_activation(user: User) -> None:
    """At registration: the link that activates the account with the password just typed."""
    link = external_url("activation.activate", token=tokens.make(tokens.ACTIVATION, user))
    _send("activation", user, user.email, "", link=link, hours=_activation_hours())


def send_choose_password(user: User) -> None:
    """A resent activation: the link activates the account with a password chosen on its page."""
    _send("choose_password", user, user.email, "", link=_choose_password_link(user),
          hours=_activation_hours())


def _choose_password_link(user: User) -> str:
    return external_url("activation.choose_password", token=tokens.make(tokens.CHOOSE_PASSWORD, user))


def send_password_reset(user: User) -> None:
    link = external_url("passwords.reset_password", token=tokens.make(tokens.RESET, user))
    _send("password_reset", user, user.email, _confirmed_name(user), link=link)


def send_already_registered(user: User) -> None:
    """To an address someone tried to register again: log in, reset, or (not active yet) choose
    the password, which activates the account (whoever registered it first may not be its owner)."""
    link = _choose_password_link(user) if not user.is_activated else None
    _send("already_registered", user, user.email, _confirmed_name(user), link=link,
          hours=_activation_hours(), login=external_url("auth.login"),
          reset=external_url("passwords.forgot_password"))


def send_email_change(user: User) -> None:
    """To the new address (user.pending_email): the link that makes the change."""
    link = external_url("address_change.open_confirmation", token=tokens.make(tokens.EMAIL_CHANGE, user))
    _send("email_change", user, user.pending_email, "", link=link, hours=_activation_hours())


def send_email_change_notice(user: User) -> None:
    """To the current address: a change was asked for, and the "this was not me" link that
    cancels it without a login."""
    not_me = external_url("address_change.open_not_me", token=tokens.make(tokens.NOT_ME, user))
    _send("email_change_notice", user, user.email, _confirmed_name(user), new_address=user.pending_email,
          not_me=not_me, hours=_activation_hours())


def rehearse(kind: str) -> None:
    """The work of sending `kind` (a key of ACCOUNT_SUBJECTS) with nothing sent, for an address
    with no account: the answer then takes as long either way."""
    link = external_url("activation.activate", token="x" * 60)
    message = _render(kind, "nobody@invalid.example", "", link=link, hours=_activation_hours(),
                      login=external_url("auth.login"), reset=external_url("passwords.forgot_password"))
    try:
        outgoing.pickup_writer().rehearse(message)
    except PickupError as e:
        raise AccountMailFailed(kind, e) from e


def _send(kind: str, user: User, address: str, display_name: str, **context) -> None:
    sender = envelope_sender(ReturnKind.ACCOUNT, RETURN_NUMBERS[kind], user.id, address)
    try:
        outgoing.write_transactional(_render(kind, address, display_name, **context), sender=sender)
    except PickupError as e:
        raise AccountMailFailed(kind, e) from e


def _confirmed_name(user: User) -> str:
    return user.display_name if user.is_activated else ""


def _activation_hours() -> int:
    return tokens.activation_max_age() // 3600


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

