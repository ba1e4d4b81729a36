"""Accounts: register, activate, log in and out, reset a forgotten password.

Mail goes through webapp.accounts.account_mail into pickup (never SMTP from the request);
when it cannot be written the answer is 503 "we could not send your mail" and a new
account is rolled back. The register, resend and reset forms answer the same, and do the
same work (a mail written durably, or rehearsed), whether or not the address has an
account, and are rate-limited per client and per address (429 when reached, and then no
mail is written). A link's token is read once from the URL, then kept in the session
behind a redirect, so it does not stay in the address bar or in access logs of later
requests. A disabled account (webapp.admin.members) cannot log in, and a new password does
not change that.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from webapp.accounts import account_mail, session_store, tokens
from webapp.accounts.account_mail import AccountMailFailed
from webapp.accounts.failures import link_problem, mail_failed
from webapp.accounts.forms import EmailOnlyForm, LoginForm, NewPasswordForm, RegisterForm
from webapp.accounts.models import User, check_password_in_constant_time
from webapp.accounts.tokens import TokenError
from webapp.site.config import site_config
from webapp.site.database import utcnow
from webapp.site.extensions import db, limiter

bp = Blueprint("auth", __name__, url_prefix="/account")
bp.register_error_handler(TokenError, link_problem)
bp.register_error_handler(AccountMailFailed, mail_failed)

PER_CLIENT = "20 per hour"
PER_ADDRESS = "3 per hour"
PREFILL = "prefill_email"   # session key: the address to put in the next form shown
RESET_TOKEN = "reset_token"  # session key: the reset link's token, off the URL


def _address_key() -> str:
    return "address:" + User.normalize_email(request.form.get("email", ""))


def _not_posted() -> bool:
    return request.method != "POST"


def _mail_form(view):
    """A form that writes mail: PER_CLIENT a client and PER_ADDRESS an address, POSTs only."""
    view = limiter.limit(PER_ADDRESS, key_func=_address_key, exempt_when=_not_posted)(view)
    return limiter.limit(PER_CLIENT, exempt_when=_not_posted)(view)


def _prefill(form) -> None:
    if request.method == "GET" and session.get(PREFILL):
        form.email.data = session.pop(PREFILL)


@bp.route("/register", methods=["GET", "POST"])
@_mail_form
def register():
    if current_user.is_authenticated:
        return redirect(url_for("browse.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        email = User.normalize_email(form.email.data)
        existing = User.by_email(email)
        if existing is None:
            existing = _create_account(email, form.display_name.data, form.password.data)
        if existing is not None:
            _remind_of_account(existing, form.password.data)
        return render_template("auth/check_inbox.html", email=email, what="activation")
    return render_template("auth/register.html", form=form)


def _create_account(email: str, display_name: str, password: str) -> User | None:
    """Make the account and mail its activation link; if the same address was registered a
    moment ago by another request, make nothing and return that account instead."""
    user = User(email=email, display_name=display_name)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()  # the id the activation link carries
    except IntegrityError:
        db.session.rollback()
        return User.by_email(email)
    # The mail first, then the commit: an account never exists without its activation mail.
    account_mail.send_activation(user)
    db.session.commit()
    return None


def _remind_of_account(user: User, password: str) -> None:
    """Someone registered an address that has an account: tell its owner, with the same
    work as a new account (a password hash, a durable mail, a write transaction), so the
    answer cannot reveal which addresses have accounts, by its words or by its time."""
    generate_password_hash(password)
    account_mail.send_already_registered(user)
    db.session.execute(db.update(User).filter_by(id=user.id).values(email=user.email))
    db.session.commit()


@bp.route("/activate/<token>")
def activate(token: str):
    user = tokens.read(tokens.ACTIVATION, token)
    if user.is_activated:
        flash("Your account is already active. Log in below.")
    else:
        user.activated_at = utcnow()
        db.session.commit()
        flash("Your account is active. Welcome! Log in below.")
    session[PREFILL] = user.email
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
@_mail_form
def resend_activation():
    form = EmailOnlyForm()
    _prefill(form)
    if form.validate_on_submit():
        user = User.by_email(form.email.data)
        if user is None:
            account_mail.rehearse("activation")
        elif user.is_activated:  # they forgot it is active: say so, and how to get in
            account_mail.send_already_registered(user)
        else:
            account_mail.send_activation(user)
        return render_template("auth/check_inbox.html", email=form.email.data, what="activation")
    return render_template("auth/resend_activation.html", form=form)


def _failed_logins() -> str:
    return f"{site_config().webapp.failed_logins_per_hour} per hour"


def _login_failed(response) -> bool:
    """A login POST that did not log in (the form again); a success is a redirect."""
    return response.status_code == 200


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(PER_CLIENT, exempt_when=_not_posted)
@limiter.limit(_failed_logins, key_func=lambda: "login-" + _address_key(), exempt_when=_not_posted,
               deduct_when=_login_failed)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("browse.index"))
    form = LoginForm()
    _prefill(form)
    if form.validate_on_submit():
        user = User.by_email(form.email.data)
        if not check_password_in_constant_time(user, form.password.data):
            flash("That email and password do not match an account.")
        elif user.is_disabled:  # told only to whoever knows the password: no address is revealed
            flash("This account is disabled by an admin, so you cannot log in.")
        elif not user.is_activated:
            flash("Your account is not active yet: follow the link in the activation email, "
                  "or ask for a new one below.")
            session[PREFILL] = user.email
            return redirect(url_for("auth.resend_activation"))
        else:
            session_store.start(user)
            login_user(user)
            return redirect(url_for("browse.index"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    session_store.end_current(current_user)
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("browse.index"))


@bp.route("/reset", methods=["GET", "POST"])
@_mail_form
def forgot_password():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        user = User.by_email(form.email.data)
        if user is not None and user.is_activated:
            account_mail.send_password_reset(user)
        else:
            account_mail.rehearse("password_reset")
        return render_template("auth/check_inbox.html", email=form.email.data, what="reset")
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset/<token>")
def reset_password(token: str):
    """The link in the mail: checked, then kept in the session; the form is at a plain URL."""
    tokens.read(tokens.RESET, token)
    session[RESET_TOKEN] = token
    return redirect(url_for("auth.new_password"))


@bp.route("/new-password", methods=["GET", "POST"])
def new_password():
    token = session.get(RESET_TOKEN)
    if token is None:
        problem = "Open the link from your password reset email again (in this browser)."
        return render_template("auth/link_problem.html", problem=problem), 400
    try:
        user = tokens.read(tokens.RESET, token)
    except TokenError as e:
        session.pop(RESET_TOKEN, None)
        return link_problem(e)
    form = NewPasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        session_store.end_all(user)  # whoever knew the old password is logged out everywhere
        db.session.commit()
        session.pop(RESET_TOKEN, None)
        if current_user.is_authenticated:
            logout_user()
        session[PREFILL] = user.email
        flash("Your password is changed. Log in with the new one.")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)
