"""Activation: the link mailed at registration, the page it opens, and "resend the activation".

The link opens /account/welcome (webapp.accounts.mail_links: the token off the URL, no GET acts)
and the account is activated by the POST of that page's button, with the password typed when it
was registered: the token is signed over the address and that password's hash. Any other way to
activate goes through choosing the password (webapp.accounts.passwords), because whoever asks
may not be whoever typed it: someone can register another person's address with a password of
their own, and the address's owner must never activate that password by a click. So a resent
activation (this form, or an admin's: webapp.admin.members) and the "you already have an
account" mail of a waiting account carry a "choose your password" link. The resend form answers
the same, and does the same work, whether or not the address has an account.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm

from webapp.accounts import account_mail, mail_forms, mail_links, tokens
from webapp.accounts.failures import account_blueprint
from webapp.accounts.forms import EmailOnlyForm
from webapp.accounts.models import User
from webapp.site.database import utcnow
from webapp.site.extensions import db

bp = account_blueprint("activation", "/account")
mail_links.route(bp, "/activate/<token>", "activate", tokens.ACTIVATION, "activation.welcome")
mail_links.route(bp, "/activate/choose-<token>", "choose_password", tokens.CHOOSE_PASSWORD,
                 "passwords.new_password")


@bp.route("/welcome", methods=["GET", "POST"])
def welcome():
    """The activation link's page: its button activates the account."""
    user = mail_links.member(tokens.ACTIVATION)
    form = FlaskForm()
    if user.is_activated or form.validate_on_submit():
        mail_links.forget(tokens.ACTIVATION)
        flash("Your account is already active. Log in below." if user.is_activated
              else "Your account is active. Welcome! Log in below.")
        user.activated_at = user.activated_at or utcnow()
        db.session.commit()
        mail_forms.prefill_next_form(user.email)
        return redirect(url_for("auth.login"))
    return render_template("auth/welcome.html", form=form, email=user.email, since=user.created_at)


def send_again(user: User | None) -> None:
    """Whoever asks for an activation mail for an address: a link to choose the password if its
    account waits, how to log in if it is active, the same work and no mail if there is none."""
    if user is None:
        account_mail.rehearse("choose_password")
    elif user.is_activated:  # they forgot it is active: say so, and how to get in
        account_mail.send_already_registered(user)
    else:
        account_mail.send_choose_password(user)


@bp.route("/activate", methods=["GET", "POST"])
@mail_forms.mail_form
def resend():
    form = EmailOnlyForm()
    mail_forms.prefill(form)
    if form.validate_on_submit():
        send_again(User.by_email(form.email.data))
        return render_template("auth/check_inbox.html", email=form.email.data, what="activation")
    return render_template("auth/resend_activation.html", form=form)
