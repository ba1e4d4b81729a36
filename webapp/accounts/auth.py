"""Accounts: register, log in and out (activation: webapp.accounts.activation; a forgotten
password: webapp.accounts.passwords).

Mail goes through webapp.accounts.account_mail into pickup (never SMTP from the request);
when it cannot be written the answer is 503 "we could not send your mail" and a new
account is rolled back. The register form answers the same, and does the same work (a mail
written durably), whether or not the address has an account, and is rate-limited per client
and per address (webapp.accounts.mail_forms).
Failed logins are counted per account and client, and per account (webapp.accounts.login_limits).
A disabled account (webapp.admin.members) cannot log in, and a new password does not change that.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from webapp.accounts import account_mail, login_limits, mail_forms, session_store
from webapp.accounts.failures import account_blueprint
from webapp.accounts.forms import LoginForm, RegisterForm
from webapp.accounts.models import User, check_password_in_constant_time
from webapp.site.extensions import db, limiter

bp = account_blueprint("auth", "/account")


HANDLE_CLASH_TRIES = 3   # registrations of one display name racing for its handle


@bp.route("/register", methods=["GET", "POST"])
@mail_forms.mail_form
def register():
    if current_user.is_authenticated:
        return redirect(url_for("browse.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        email = User.normalize_email(form.email.data)
        existing = User.by_email(email)
        if existing is None:
            existing = _create_account(email, form.display_name.data, form.password.data,
                                       newsletter=form.newsletter.data)
        if existing is not None:
            _remind_of_account(existing, form.password.data)
        return render_template("auth/check_inbox.html", email=email, what="activation")
    return render_template("auth/register.html", form=form)


def _create_account(email: str, display_name: str, password: str, *, newsletter: bool) -> User | None:
    """Make the account and mail its activation link; if the same address was registered a
    moment ago by another request, make nothing and return that account instead."""
    for _attempt in range(HANDLE_CLASH_TRIES):
        user = User(email=email, display_name=display_name, newsletter=newsletter)
        user.set_password(password)
        db.session.add(user)
        try:
            db.session.flush()  # the id the activation link carries
        except IntegrityError:
            db.session.rollback()
            existing = User.by_email(email)
            if existing is not None:
                return existing
            continue   # the same display name's handle taken this instant: the next one is free
        # The mail first, then the commit: an account never exists without its activation mail.
        account_mail.send_activation(user)
        db.session.commit()
        return None
    raise RuntimeError(f"no free handle for {display_name!r} after {HANDLE_CLASH_TRIES} tries")


def _remind_of_account(user: User, password: str) -> None:
    """Someone registered an address that has an account: tell its owner, with the same
    work as a new account (a password hash, a durable mail, a write transaction), so the
    answer cannot reveal which addresses have accounts, by its words or by its time."""
    generate_password_hash(password)
    account_mail.send_already_registered(user)
    db.session.execute(db.update(User).filter_by(id=user.id).values(email=user.email))
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(mail_forms.PER_CLIENT, exempt_when=mail_forms.not_posted)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("browse.index"))
    form = LoginForm()
    mail_forms.prefill(form)
    if form.validate_on_submit():
        paused = login_limits.pause(form.email.data)
        if paused is not None:   # the right password too: guessing stops here
            return render_template("auth/login_paused.html", pause=paused), 429
        user = User.by_email(form.email.data)
        if not check_password_in_constant_time(user, form.password.data):
            login_limits.failed(form.email.data)
            flash("That email and password do not match an account.")
        elif user.is_disabled:  # told only to whoever knows the password: no address is revealed
            flash("This account is disabled by an admin, so you cannot log in.")
        elif not user.is_activated:
            flash("Your account is not active yet: follow the link in the activation email, "
                  "or ask for a new one below.")
            mail_forms.prefill_next_form(user.email)
            return redirect(url_for("activation.resend"))
        else:
            session_store.start(user)
            login_user(user)
            return redirect(_next_page())
    return render_template("auth/login.html", form=form)


def _next_page() -> str:
    """The page that sent the visitor to log in (login_required's ?next=), if it is a path on
    this site; else the front page. Anything a browser could read as another site is refused."""
    target = request.args.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and all(" " < c < "\x7f" for c in target):
        return target
    return url_for("browse.index")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    session_store.end_current(current_user)
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("browse.index"))
