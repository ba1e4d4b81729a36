"""Accounts: register, activate, log in and out, reset a forgotten password.

Mail goes through webapp.notify into pickup (never SMTP from the request).
The reset and resend forms answer the same whether or not the address has an
account, and are rate-limited per client and per address (429 when reached,
and then no mail is written).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import generate_password_hash

from webapp import notify, session_store
from webapp.extensions import db, limiter
from webapp.forms import EmailOnlyForm, LoginForm, NewPasswordForm, RegisterForm
from webapp.models import User, check_password_in_constant_time, utcnow
from webapp.tokens import TokenError, read_activation_token, read_reset_token

bp = Blueprint("auth", __name__, url_prefix="/account")

PER_CLIENT = "20 per hour"
PER_ADDRESS = "3 per hour"


def _address_key() -> str:
    return "address:" + User.normalize_email(request.form.get("email", ""))


def _post_only() -> bool:
    return request.method != "POST"


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(PER_CLIENT, exempt_when=_post_only)
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        email = User.normalize_email(form.email.data)
        if User.by_email(email) is None:
            user = User(email=email, display_name=form.display_name.data)
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.commit()
            notify.send_activation(user)
        else:  # the same work and answer: registration must not reveal who has an account
            generate_password_hash(form.password.data)
            notify.rehearse("activation")
        return render_template("auth/check_inbox.html", email=email, what="activation")
    return render_template("auth/register.html", form=form)


@bp.route("/activate/<token>")
def activate(token: str):
    try:
        user = read_activation_token(token)
    except TokenError as e:
        return render_template("auth/link_problem.html", problem=str(e)), 400
    if user.is_activated:
        flash("Your account is already active. Log in below.")
    else:
        user.activated_at = utcnow()
        db.session.commit()
        flash("Your account is active. Welcome! Log in below.")
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
@limiter.limit(PER_CLIENT, exempt_when=_post_only)
@limiter.limit(PER_ADDRESS, key_func=_address_key, exempt_when=_post_only)
def resend_activation():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        user = User.by_email(form.email.data)
        if user is not None and not user.is_activated:
            notify.send_activation(user)
        return render_template("auth/check_inbox.html", email=form.email.data, what="activation")
    return render_template("auth/resend_activation.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(PER_CLIENT, exempt_when=_post_only)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = User.by_email(form.email.data)
        if not check_password_in_constant_time(user, form.password.data):
            flash("That email and password do not match an account.")
        elif not user.is_activated:
            flash("Your account is not active yet: follow the link in the activation email, "
                  "or ask for a new one below.")
            return redirect(url_for("auth.resend_activation"))
        else:
            session_store.start(user)
            login_user(user)
            return redirect(url_for("main.index"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    session_store.end_current(current_user)
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("main.index"))


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(PER_CLIENT, exempt_when=_post_only)
@limiter.limit(PER_ADDRESS, key_func=_address_key, exempt_when=_post_only)
def forgot_password():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        user = User.by_email(form.email.data)
        if user is not None and user.is_activated:
            notify.send_password_reset(user)
        else:
            notify.rehearse("password_reset")
        return render_template("auth/check_inbox.html", email=form.email.data, what="reset")
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = read_reset_token(token)
    except TokenError as e:
        return render_template("auth/link_problem.html", problem=str(e)), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        session_store.end_all(user)  # whoever knew the old password is logged out everywhere
        db.session.commit()
        if current_user.is_authenticated:
            logout_user()
        flash("Your password is changed. Log in with the new one.")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)
