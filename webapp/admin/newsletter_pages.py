"""The admin's newsletter pages: write, preview, send a test to yourself, send to everyone,
and watch it go out (written / audience, rate, time left), with pause, resume and cancel.

Sending stores the broadcast and its outbox event and returns at once; the fan-out
workers write the files (webapp.mail.newsletter). The progress page asks
/admin/newsletter/ID.json every second (static/broadcast.js) and works without script
too (reload). Every action is a POST with a CSRF token and is logged with the admin's
name; members who are not admins get 403.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from spooler.envelope import single_line
from spooler.message import Address, build
from spooler.pickup import PickupError
from webapp.admin.moderation import admin_required
from webapp.mail import newsletter, newsletter_mail, unsubscribe
from webapp.mail.models import Broadcast
from webapp.posts.markdown import clean
from webapp.site import outgoing
from webapp.site.extensions import db

bp = Blueprint("newsletter_admin", __name__, url_prefix="/admin/newsletter")


class NewsletterForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Text (Markdown)", validators=[DataRequired(), Length(min=10, max=100_000)])


@bp.route("", methods=["GET", "POST"])
@admin_required
def index():
    form = NewsletterForm()
    preview = None
    if form.validate_on_submit():
        action = request.form.get("action", "preview")
        if action == "send":
            sent = newsletter.start(current_user, single_line(form.subject.data), form.body.data)
            db.session.commit()
            current_app.logger.info("admin %s started newsletter %s (%r) to %d members",
                                    current_user.email, sent.id, sent.subject, sent.audience)
            return redirect(url_for("newsletter_admin.show", broadcast_id=sent.id))
        if action == "test":
            try:
                _send_test(form.subject.data, form.body.data)
                flash(f"A test is on its way to {current_user.email}.")
            except PickupError as e:
                current_app.logger.error("newsletter test for %s not written: %s", current_user.email, e)
                flash("The test could not be written to the mail folder; see the site's log.")
        preview = _preview(form.subject.data, form.body.data)
    recent = db.session.execute(db.select(Broadcast).order_by(Broadcast.id.desc()).limit(10)).scalars()
    return render_template("admin/newsletter.html", form=form, preview=preview,
                           audience=newsletter.audience_size(),
                           recent=[(b, newsletter.progress(b)) for b in recent])


@bp.route("/<int:broadcast_id>")
@admin_required
def show(broadcast_id: int):
    sent = db.session.get(Broadcast, broadcast_id) or abort(404)
    return render_template("admin/broadcast.html", broadcast=sent, progress=newsletter.progress(sent),
                           actions=newsletter.ACTIONS)


@bp.route("/<int:broadcast_id>.json")
@admin_required
def progress(broadcast_id: int):
    sent = db.session.get(Broadcast, broadcast_id) or abort(404)
    return jsonify(newsletter.progress(sent))


@bp.route("/<int:broadcast_id>/<any(pause, resume, cancel):action>", methods=["POST"])
@admin_required
def control(broadcast_id: int, action: str):
    sent = db.session.get(Broadcast, broadcast_id) or abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    if not getattr(newsletter, action)(sent):
        flash(f"Nothing to {action}: the newsletter is {newsletter.progress(sent)['state']}.")
        return redirect(url_for("newsletter_admin.show", broadcast_id=sent.id))
    db.session.commit()
    current_app.logger.info("admin %s: %s newsletter %s", current_user.email, action, sent.id)
    flash({"pause": "Paused: nothing more is written until you resume.",
           "resume": "Resumed.", "cancel": "Cancelled: nothing more is written."}[action])
    return redirect(url_for("newsletter_admin.show", broadcast_id=sent.id))


def _preview(subject: str, body: str) -> dict:
    """The mail as the admin would get it: the text part, and the HTML part cleaned to the
    site's allow-list (the page's CSP allows no inline style)."""
    mail = newsletter_mail.notification(subject, body, None, current_user.display_name,
                                        unsubscribe.link(current_user.id, unsubscribe.NEWSLETTER))
    return {"subject": mail.subject, "text": mail.text, "html": clean(mail.html)}


def _send_test(subject: str, body: str) -> None:
    mail = newsletter_mail.notification(subject, body, None, current_user.display_name,
                                        unsubscribe.link(current_user.id, unsubscribe.NEWSLETTER))
    mail.to = [Address(current_user.email, single_line(current_user.display_name))]
    mail.subject = f"[test] {mail.subject}"
    mail.message_id = outgoing.new_message_id()
    outgoing.write_transactional(build(mail))
