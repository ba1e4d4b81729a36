"""Choosing a password by a link to the account's mailbox: a forgotten password's reset (the
form, its link), and the "choose your password" link that activates a waiting account.

The reset form answers the same, and does the same work (a mail written durably, or rehearsed),
whether or not the address has an account (webapp.accounts.mail_forms limits it); for an account
never activated it mails the "choose your password" link. Both links
open /account/new-password as webapp.accounts.mail_links says (the token off the URL). A new
password ends every session of the account (and a pending address change); a waiting account
becomes active (webapp.accounts.activation says why); a disabled account (webapp.admin.members)
stays disabled.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_user, logout_user

from webapp.accounts import account_mail, mail_forms, mail_links, session_store, tokens
from webapp.accounts.failures import account_blueprint
from webapp.accounts.forms import EmailOnlyForm, NewPasswordForm
from webapp.accounts.models import User
from webapp.site.database import utcnow
from webapp.site.extensions import db

bp = account_blueprint("passwords", "/account")
mail_links.route(bp, "/reset/<token>", "reset_password", tokens.RESET, "passwords.new_password")


@bp.route("/reset", methods=["GET", "POST"])
@mail_forms.mail_form
def forgot_password():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        user = User.by_email(form.email.data)
        if user is None:
            account_mail.rehearse("password_reset")
        elif user.is_activated:
            account_mail.send_password_reset(user)
        else:  # never activated: perhaps registered by someone else, so its owner chooses one
            account_mail.send_choose_password(user)
        return render_template("auth/check_inbox.html", email=form.email.data, what="reset")
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/new-password", methods=["GET", "POST"])
def new_password():
    """The page a reset or choose-password link opens; the password chosen, it logs the member in
    (the mailbox proved itself: no password login, so no failed-login pause, stands in the way)."""
    purpose = mail_links.kept(tokens.RESET, tokens.CHOOSE_PASSWORD)
    user = mail_links.member(purpose)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/reset_password.html", form=form, activating=not user.is_activated)
    mail_links.forget(purpose)
    done = ("Your password is changed" if user.is_activated
            else "Your account is active, with the password you chose")
    choose(user, form.password.data)
    db.session.commit()
    if current_user.is_authenticated:
        logout_user()
    if user.is_disabled:   # a new password does not change that (webapp.admin.members)
        flash(f"{done}, but an admin disabled this account, so you cannot log in.")
        mail_forms.prefill_next_form(user.email)
        return redirect(url_for("auth.login"))
    flash(f"{done}. You are logged in.")
    session_store.start(user)
    login_user(user)
    return redirect(url_for("browse.index"))


def choose(user: User, password: str) -> None:
    """A password chosen through a link to the account's own mailbox. It activates a waiting
    account (the mailbox proved itself and chose the password), and ends every session and a
    pending address change: whoever knew the old password keeps nothing. The caller commits."""
    user.set_password(password)
    user.activated_at = user.activated_at or utcnow()
    session_store.end_all(user)
