"""A member's settings: display name, mail about followed posts, newsletter, password, address,
and the outcome of their last notifications (sent, or why not).

A new password needs the current one and logs out every other session (this one stays). A
new address needs the current password; webapp.accounts.address_change mails the link to it
and a notice to the old one, and confirms it. A member whose address bounces
(webapp.mail.bounces) confirms it from the banner, or changes it, and mail starts again.
Every form is a POST with a CSRF token.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm

from webapp.accounts import address_change, session_store
from webapp.accounts.failures import account_blueprint
from webapp.accounts.forms import ChangeEmailForm, ChangePasswordForm, PreferencesForm
from webapp.accounts.models import User
from webapp.mail import bounces, outbox
from webapp.site.extensions import db, limiter
from webapp.site.form_ids import own_ids

bp = account_blueprint("member_settings", "/account/settings")
RECENT = 10   # notification outcomes shown, so "why didn't I get the mail?" has an answer


def _page(preferences=None, password=None, email=None, status=200):
    # formdata=None: a form not the one posted shows the account, not the other form's fields.
    # Three forms on one page: the two that follow get ids of their own (the first keeps its).
    return render_template("account/settings.html",
                           preferences=preferences or PreferencesForm(formdata=None, obj=current_user),
                           password=own_ids(password or ChangePasswordForm(formdata=None), "new-password"),
                           email=own_ids(email or ChangeEmailForm(formdata=None), "new-email"),
                           recent=outbox.outcomes_for(current_user.id, RECENT)), status


@bp.route("", methods=["GET", "POST"])
@login_required
def index():
    form = PreferencesForm() if _posted() else PreferencesForm(formdata=None, obj=current_user)
    if form.validate_on_submit():
        current_user.display_name = form.display_name.data
        current_user.notify_mode = form.notify_mode.data
        current_user.follow_on_reply = form.follow_on_reply.data
        current_user.newsletter = form.newsletter.data
        db.session.commit()
        flash("Your settings are saved.")
        return redirect(url_for("member_settings.index"))
    return _page(preferences=form, status=400 if _posted() else 200)


def _with_the_password(form_class, shown_as: str):
    """A change that needs the current password: a logged-in member's POST, 10 an hour; the
    view gets the valid form, else the page shows the form (`shown_as`) and why (400)."""
    def decorate(view):
        @wraps(view)
        def checked():
            form = form_class()
            if not form.validate_on_submit():
                return _page(**{shown_as: form}, status=400)
            if not current_user.check_password(form.current_password.data):
                form.current_password.errors.append("That is not your current password.")
                return _page(**{shown_as: form}, status=400)
            return view(form)
        return login_required(limiter.limit("10 per hour")(checked))
    return decorate


@bp.route("/password", methods=["POST"])
@_with_the_password(ChangePasswordForm, "password")
def change_password(form: ChangePasswordForm):
    user = current_user._get_current_object()
    user.set_password(form.password.data)
    session_store.end_all(user)  # whoever knew the old password is logged out
    db.session.commit()
    session_store.start(user)    # ... but not this browser
    login_user(user)
    flash("Your password is changed. Every other session is logged out.")
    return redirect(url_for("member_settings.index"))


@bp.route("/email", methods=["POST"])
@_with_the_password(ChangeEmailForm, "email")
def change_email(form: ChangeEmailForm):
    new = User.normalize_email(form.email.data)
    if new == current_user.email:
        form.email.errors.append("That is already your address.")
        return _page(email=form, status=400)
    address_change.ask(current_user._get_current_object(), new)
    db.session.commit()
    return render_template("auth/check_inbox.html", email=new, what="email change")


@bp.route("/address-ok", methods=["POST"])
@login_required
def address_ok():
    """The banner's "my address is right": mail to it starts again."""
    if FlaskForm().validate_on_submit() and current_user.bouncing_at is not None:
        current_app.logger.info("member %s confirmed their bouncing address", current_user.id)
        bounces.confirm_address(current_user)
        db.session.commit()
        flash(f"Thank you: we write to {current_user.email} again.")
    return redirect(request.referrer if _same_site(request.referrer) else url_for("member_settings.index"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


def _posted() -> bool:
    return request.method == "POST"
