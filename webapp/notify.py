"""Account mail: render the text and HTML templates and put the message in pickup.

Every mail of this module is transactional and written durably through the
spooler, never sent over SMTP from the request. Reads [webapp] mail_from and
base_url and [pickup] dir. A display name is made single-line before it
reaches a header and is escaped by Jinja in the HTML part.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, render_template, url_for

from spooler.envelope import single_line
from spooler.message import Address, Notification, build
from spooler.names import TRANSACTIONAL, new_queue_id
from spooler.pickup import PickupWriter
from webapp.models import User
from webapp.tokens import make_activation_token, make_reset_token


def send_activation(user: User) -> None:
    link = _external("auth.activate", token=make_activation_token(user))
    _write(_render("activation", user.email, user.display_name, "Activate your account",
                   link=link, hours=current_app.config["ACTIVATION_MAX_AGE"] // 3600))


def send_password_reset(user: User) -> None:
    link = _external("auth.reset_password", token=make_reset_token(user))
    _write(_render("password_reset", user.email, user.display_name, "Reset your password",
                   link=link))


def rehearse(kind: str) -> None:
    """The work of sending `kind` ("activation", "password_reset") with nothing sent, for an
    address with no account: the answer then takes as long either way."""
    subject = {"activation": "Activate your account", "password_reset": "Reset your password"}[kind]
    link = _external("auth.activate", token="x" * 120)
    message = _render(kind, "nobody@invalid.example", "Member", subject, link=link,
                      hours=current_app.config["ACTIVATION_MAX_AGE"] // 3600)
    _writer().rehearse(message)


def _render(kind: str, address: str, display_name: str, subject: str, **context):
    name = single_line(display_name)
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
