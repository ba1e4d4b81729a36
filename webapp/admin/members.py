"""The members page for admins (/admin/members): find members by address or name, see
whether each is activated, bouncing, an admin or disabled; resend an activation mail;
disable an account and enable it again.

Reads users; writes users.disabled_at and disabled_by, and an activation mail to pickup
(webapp.accounts.account_mail: its link leads to choosing the password, so a password typed by
whoever registered the address is never activated by its owner's click). Every page and POST
answers 403 to a member who is not an admin; every change is a POST with a CSRF token and is
logged with the admin's name and address. Disabling ends the member's sessions (and a pending
address change) at once (webapp.accounts.session_store.end_all); the login form, the session
lookup and the fan-out (reason "disabled") then refuse the member, and a new password does not
change that. An admin cannot disable themselves. The list is a keyset page like every other
(webapp.posts.listing), the newest member first.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func

from spooler.names import printable
from spooler.pickup import PickupError
from webapp.accounts import account_mail, session_store
from webapp.accounts.models import User
from webapp.admin.access import admin_required
from webapp.posts.listing import Page, read_page
from webapp.site.database import utcnow
from webapp.site.extensions import db

bp = Blueprint("admin_members", __name__, url_prefix="/admin/members")

# The "show" filter: its value in the URL, its label, and the condition it adds.
SHOW = {
    "all": ("Everyone", None),
    "bouncing": ("Bouncing only", User.bouncing_at.is_not(None)),
    "inactive": ("Not activated", User.activated_at.is_(None)),
    "disabled": ("Disabled", User.disabled_at.is_not(None)),
}
MAX_QUERY = 254


class Refused(Exception):
    """An admin's action that does not apply to this member; the message says why."""


def find_members(query: str = "", show: str = "all", before: int | None = None) -> Page:
    """Members whose address or display name holds `query` (any case), newest first."""
    statement = db.select(User)
    text = query.strip().lower()
    if text:  # addresses are stored lower-case; autoescape: a typed % or _ is only itself
        statement = statement.where(User.email.contains(text, autoescape=True)
                                    | func.lower(User.display_name).contains(text, autoescape=True))
    condition = SHOW[show][1]
    if condition is not None:
        statement = statement.where(condition)
    return read_page(statement, User.id, before)


def resend_activation(member: User, admin: User) -> None:
    """Write a fresh activation mail for a member who is not active yet, whose link leads to
    choosing the password (webapp.accounts.activation says why); Refused (logged) also when the
    pickup folder refuses the mail."""
    if member.is_activated:
        raise Refused(f"{member.email} is already active: no activation mail was written.")
    if member.is_disabled:
        raise Refused(f"{member.email} is disabled: enable the account first.")
    try:
        account_mail.send_choose_password(member)
    except PickupError as e:
        current_app.logger.error("activation mail for %s not written: %s", member.email, e)
        raise Refused("The activation mail could not be written (the outgoing mail folder refused it); "
                      "try again later.") from None
    _log(admin, "wrote a new activation mail for", member)


def disable(member: User, admin: User) -> None:
    """The member can no longer log in, is logged out everywhere and gets no notifications."""
    if member.id == admin.id:
        raise Refused("You cannot disable your own account.")
    if member.is_disabled:
        raise Refused(f"{member.email} is already disabled.")
    member.disabled_at, member.disabled_by = utcnow(), admin.email
    session_store.end_all(member)
    db.session.commit()
    _log(admin, "disabled", member)


def enable(member: User, admin: User) -> None:
    if not member.is_disabled:
        raise Refused(f"{member.email} is not disabled.")
    member.disabled_at, member.disabled_by = None, None
    db.session.commit()
    _log(admin, "enabled", member)


# The buttons on a member (the last part of their URL): what each does, and what the admin reads.
BUTTONS = {
    "resend-activation": (resend_activation, "A new activation mail to {email} is on its way."),
    "disable": (disable, "{email} is disabled and logged out everywhere."),
    "enable": (enable, "{email} is enabled: they can log in again."),
}


def _log(admin: User, did: str, member: User) -> None:
    current_app.logger.info("admin %s <%s> %s member %s (id %s)", printable(admin.display_name),
                            admin.email, did, member.email, member.id)


@bp.route("")
@admin_required
def index():
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    show = request.args.get("show", "all")
    if show not in SHOW:
        abort(404)
    page = find_members(query, show, request.args.get("before", type=int))
    return render_template("admin/members.html", page=page, query=query, show=show,
                           shows={value: label for value, (label, _) in SHOW.items()})


def _member_or_404(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


def _back_to(member: User):
    return redirect(url_for("admin_members.index", q=member.email))


@bp.route("/<int:user_id>/<any('resend-activation', disable, enable):action>", methods=["POST"])
@admin_required
def act(user_id: int, action: str):
    """A member's button: do it, and say what happened or why it did not."""
    member = _member_or_404(user_id)
    do, done = BUTTONS[action]
    try:
        do(member, current_user)
    except Refused as e:
        flash(str(e))
    else:
        flash(done.format(email=member.email))
    return _back_to(member)
