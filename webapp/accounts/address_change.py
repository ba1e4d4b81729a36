"""A member's new address: asked for in the settings, confirmed by that member, logged in, on the
page the link mailed to the new address opens; cancelled by the owner from the old address.

ask() sets users.pending_email and writes two account mails: the link to the new address, and a
notice to the old one with a "this was not me" link. The confirmation link is signed over both
addresses and the password hash (webapp.accounts.tokens EMAIL_CHANGE), and every defence of the
owner cancels the change (session_store.end_all: a new password, a reset, logging out everywhere,
an admin disabling the account), so a password the owner has changed moves nothing. Confirming
needs the member who asked, logged in (a visitor gets the login page, another member 403); if
another account took the address meanwhile, the change is dropped, saying so (409). "This was not
me" needs no login: it cancels the change, logs out every session and leads to choosing a new
password. Links open as webapp.accounts.mail_links says; every change is a POST with a CSRF token.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm

from webapp.accounts import account_mail, mail_links, session_store, tokens
from webapp.accounts.failures import account_blueprint
from webapp.accounts.models import User
from webapp.mail import bounces
from webapp.site.extensions import db

bp = account_blueprint("address_change", "/account/settings/email")
mail_links.route(bp, "/<token>", "open_confirmation", tokens.EMAIL_CHANGE, "address_change.confirmation")
mail_links.route(bp, "/not-me-<token>", "open_not_me", tokens.NOT_ME, "address_change.not_me")


class AddressTaken(Exception):
    """Another account uses the new address now; the change was dropped."""


def ask(user: User, new: str) -> None:
    """Make `new` the address waiting for its link, and write both mails (the caller commits:
    no pending change without its link)."""
    user.pending_email = new
    account_mail.send_email_change(user)
    account_mail.send_email_change_notice(user)


def confirm(user: User) -> None:
    """Make the pending address the member's; AddressTaken (the change dropped) if it is not free."""
    if User.by_email(user.pending_email) is not None:
        user.pending_email = None
        raise AddressTaken("Another account uses that address now, so yours was not changed.")
    user.email, user.pending_email = user.pending_email, None
    bounces.confirm_address(user)   # a new address starts with a clean record


@bp.route("/confirm", methods=["GET", "POST"])
@login_required
def confirmation():
    user = mail_links.member(tokens.EMAIL_CHANGE)
    if user.id != current_user.id:
        problem = ("This link is for another account: log out, then log in as the member who "
                   "asked for the new address and open the link again.")
        return render_template("auth/link_problem.html", problem=problem), 403
    form = FlaskForm()
    if not form.validate_on_submit():
        return render_template("account/confirm_address.html", form=form, new=user.pending_email)
    mail_links.forget(tokens.EMAIL_CHANGE)
    try:
        confirm(user)
    except AddressTaken as e:
        db.session.commit()
        return render_template("auth/link_problem.html", problem=str(e)), 409
    db.session.commit()
    flash(f"Your address is now {user.email}.")
    return redirect(url_for("member_settings.index"))


@bp.route("/not-me", methods=["GET", "POST"])
def not_me():
    """The owner, from the notice: cancel the change, log out everyone, choose a new password."""
    user = mail_links.member(tokens.NOT_ME)
    form = FlaskForm()
    if not form.validate_on_submit():
        return render_template("account/not_me.html", form=form, new=user.pending_email)
    mail_links.forget(tokens.NOT_ME)
    new = user.pending_email
    session_store.end_all(user)   # cancels the change too
    db.session.commit()
    if current_user.is_authenticated:
        logout_user()
    # The mailbox just proved itself, as a reset link does: the new password is chosen at once.
    mail_links.keep(tokens.RESET, tokens.make(tokens.RESET, user))
    flash(f"The change to {new} is cancelled and every session of your account is logged out. "
          "Whoever asked for it knows your password: choose a new one now.")
    return redirect(url_for("passwords.new_password"))
