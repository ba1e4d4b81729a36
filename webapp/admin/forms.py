"""The admins' forms (Flask-WTF: each carries a CSRF token): hiding a post, and a newsletter.

The newsletter's text is checked by its own rule (webapp.mail.newsletter.body_problem),
the one `flask broadcast` asks too.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from webapp.mail import newsletter
from webapp.posts.forms import one_line_trimmed

MAX_NEWSLETTER_CHARS = 100_000


class HideForm(FlaskForm):
    reason = StringField("Reason", filters=[one_line_trimmed], validators=[
        DataRequired("Say why it is hidden."),
        Length(max=200, message="A reason has at most 200 characters.")])


def _newsletter_text(form, field) -> None:
    if (problem := newsletter.body_problem(field.data or "")) is not None:
        raise ValidationError(problem[0].upper() + problem[1:] + ".")


class NewsletterForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Text (Markdown)", validators=[DataRequired(), Length(max=MAX_NEWSLETTER_CHARS),
                                                        _newsletter_text])
    # Sending cannot be undone: the Send button only sends with this ticked.
    confirmed = BooleanField("Yes, send it to every member in the audience")
