"""Account mail: render the text and HTML templates and put the message in pickup.

Every mail of this module is transactional and written durably through the
spooler, never sent over SMTP from the request. Reads [webapp] mail_from and
base_url and [pickup] dir. Fails with spooler.pickup.PickupError when the mail
cannot be placed (nothing is then left in pickup).

A display name appears only in mail to an activated account: anyone can register
someone else's address with a "name" that reads like a message, so mail to an
unconfirmed address says only what the site itself wrote. Where it appears it is
made single-line before it reaches a header and is escaped by Jinja in the HTML part.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, render_template, url_for

from spooler.envelope import single_line
from spooler.message import Address, Notification, build
from spooler.names import TRANSACTIONAL, new_queue_id
from spooler.pickup import PickupWriter
from webapp.accounts.models import User
from webapp.accounts.tokens import make_activation_token, make_email_change_token, make_reset_token

SUBJECTS = {
    "activation": "Activate your account",
    "password_reset": "Reset your password",
    "already_registered": "You already have an account",
    "email_change": "Confirm your new address",
    "email_change_notice": "Your address is being changed",
}


def send_activation(user: User) -> None:
    link = _external("auth.activate", token=make_activation_token(user))
    _write(_render("activation", user.email, "", link=link, hours=_activation_hours()))


def send_password_reset(user: User) -> None:
    link = _external("auth.reset_password", token=make_reset_token(user))
    _write(_render("password_reset", user.email, _confirmed_name(user), link=link))


def send_already_registered(user: User) -> None:
    """To an address someone tried to register again: log in, reset, or (not active yet) activate."""
    link = _external("auth.activate", token=make_activation_token(user)) \
        if not user.is_activated else None
    _write(_render("already_registered", user.email, _confirmed_name(user), link=link,
                   hours=_activation_hours(), login=_external("auth.login"),
                   reset=_external("auth.forgot_password")))


def send_email_change(user: User) -> None:
    """To the new address (user.pending_email): the link that makes the change."""
    link = _external("member_settings.confirm_email", token=make_email_change_token(user))
    _write(_render("email_change", user.pending_email, "", link=link, hours=_activation_hours()))


def send_email_change_notice(user: User) -> None:
    """To the current address: a change was asked for; nothing happens until it is confirmed."""
    _write(_render("email_change_notice", user.email, _confirmed_name(user),
                   new_address=user.pending_email, settings=_external("member_settings.index"),
                   reset=_external("auth.forgot_password")))


def rehearse(kind: str) -> None:
    """The work of sending `kind` (a key of SUBJECTS) with nothing sent, for an address
    with no account: the answer then takes as long either way."""
    link = _external("auth.activate", token="x" * 60)
    message = _render(kind, "nobody@invalid.example", "", link=link, hours=_activation_hours(),
                      login=_external("auth.login"), reset=_external("auth.forgot_password"))
    _writer().rehearse(message)


def _confirmed_name(user: User) -> str:
    return user.display_name if user.is_activated else ""


def _activation_hours() -> int:
    return current_app.config["ACTIVATION_MAX_AGE"] // 3600


def _render(kind: str, address: str, display_name: str, **context):
    name = single_line(display_name)
    subject = SUBJECTS[kind]
    context.update(name=name, site_url=current_app.config["BASE_URL"])
    notification = Notification(
        sender=Address.parse(current_app.config["MAIL_FROM"]),
        to=[Address(address, name)],
        subject=subject,
        text=render_template(f"email/{kind}.txt", **context),
        html=render_template(f"email/{kind}.html", **context),
        message_id=f"{new_queue_id()}@{site_domain()}",
    )
    return build(notification)


def _write(message) -> None:
    _writer().write(message, priority=TRANSACTIONAL)


def _writer() -> PickupWriter:
    return PickupWriter(current_app.config["PICKUP_DIR"], durable=True,
                        max_size=current_app.config["MAX_MESSAGE_SIZE"])


def _external(endpoint: str, **values) -> str:
    # Links point at the configured public address, not at whatever Host the request had.
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)


def site_domain() -> str:
    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
