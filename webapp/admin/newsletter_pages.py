"""The admin's newsletter pages: write, preview, send a test to yourself, send to everyone,
and watch it go out (written / audience, rate, time left), with pause, resume and cancel.

Sending stores the newsletter and its outbox event and returns at once; the fan-out
workers write the files (webapp.mail.newsletter). The progress page asks
/admin/newsletter/ID.json every second (static/newsletter.js) and works without script
too (reload). Send needs its confirmation box ticked and Cancel asks on a page of its own
(neither can be undone); pause and resume act at once. Every action is a POST with a CSRF
token and is logged with the admin's name; members who are not admins get 403. A test the
pickup folder refuses is said on the page and logged.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from spooler.envelope import single_line
from spooler.message import Address, Notification, build
from spooler.pickup import PickupError
from webapp.admin.access import admin_required
from webapp.admin.forms import NewsletterForm
from webapp.mail import newsletter, newsletter_mail, unsubscribe
from webapp.mail.models import Newsletter
from webapp.posts.markdown import clean
from webapp.site import outgoing
from webapp.site.extensions import db

bp = Blueprint("newsletter_admin", __name__, url_prefix="/admin/newsletter")


@bp.route("", methods=["GET", "POST"])
@admin_required
def index():
    form = NewsletterForm()
    preview = None
    if form.validate_on_submit():
        action = request.form.get("action", "preview")
        if action == "send" and not form.confirmed.data:
            form.confirmed.errors = ["Tick this box to send: a newsletter cannot be called back."]
        elif action == "send":
            sent = newsletter.start(current_user, single_line(form.subject.data), form.body.data)
            db.session.commit()
            current_app.logger.info("admin %s started newsletter %s (%r) to %d members",
                                    current_user.email, sent.id, sent.subject, sent.audience)
            return redirect(url_for("newsletter_admin.show", newsletter_id=sent.id))
        if action == "test":
            try:
                _send_test(form.subject.data, form.body.data)
                flash(f"A test is on its way to {current_user.email}.")
            except PickupError as e:
                current_app.logger.error("newsletter test for %s not written: %s", current_user.email, e)
                flash("The test could not be written to the mail folder; see the site's log.")
        preview = _preview(form.subject.data, form.body.data)
    recent = db.session.execute(db.select(Newsletter).order_by(Newsletter.id.desc()).limit(10)).scalars()
    return render_template("admin/newsletter.html", form=form, preview=preview,
                           audience=newsletter.audience_size(),
                           recent=[(b, newsletter.progress(b)) for b in recent])


@bp.route("/<int:newsletter_id>")
@admin_required
def show(newsletter_id: int):
    sent = _newsletter_or_404(newsletter_id)
    return render_template("admin/newsletter_progress.html", newsletter=sent,
                           progress=newsletter.progress(sent),
                           actions=newsletter.ACTIONS)


@bp.route("/<int:newsletter_id>.json")
@admin_required
def progress(newsletter_id: int):
    sent = _newsletter_or_404(newsletter_id)
    return jsonify(newsletter.progress(sent))


@bp.route("/<int:newsletter_id>/<any(pause, resume, cancel):action>", methods=["POST"])
@admin_required
def control(newsletter_id: int, action: str):
    sent = _newsletter_or_404(newsletter_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    state = newsletter.progress(sent)["state"]
    if action == "cancel" and state in newsletter.ACTIONS["cancel"] and request.form.get("confirm") != "yes":
        # Cancelling cannot be undone: a page asks first (works without script).
        return render_template("admin/newsletter_cancel.html", newsletter=sent,
                               progress=newsletter.progress(sent))
    if not getattr(newsletter, action)(sent):
        flash(f"Nothing to {action}: the newsletter is {newsletter.progress(sent)['state']}.")
        return redirect(url_for("newsletter_admin.show", newsletter_id=sent.id))
    db.session.commit()
    current_app.logger.info("admin %s: %s newsletter %s", current_user.email, action, sent.id)
    flash({"pause": "Paused: nothing more is written until you resume.",
           "resume": "Resumed.", "cancel": "Cancelled: nothing more is written."}[action])
    return redirect(url_for("newsletter_admin.show", newsletter_id=sent.id))


def _newsletter_or_404(newsletter_id: int) -> Newsletter:
    return db.session.get(Newsletter, newsletter_id) or abort(404)


def _as_the_admin_gets_it(subject: str, body: str) -> Notification:
    return newsletter_mail.notification(subject, body, None, current_user.display_name,
                                        unsubscribe.link(current_user.id, unsubscribe.NEWSLETTER_SETTING))


def _preview(subject: str, body: str) -> dict:
    """The mail as the admin would get it: the text part, and the HTML part cleaned to the
    site's allow-list (the page's CSP allows no inline style)."""
    mail = _as_the_admin_gets_it(subject, body)
    return {"subject": mail.subject, "text": mail.text, "html": clean(mail.html)}


def _send_test(subject: str, body: str) -> None:
    mail = _as_the_admin_gets_it(subject, body)
    mail.to = [Address(current_user.email, single_line(current_user.display_name))]
    mail.subject = f"[test] {mail.subject}"
    mail.message_id = outgoing.new_message_id()
    outgoing.write_transactional(build(mail))
