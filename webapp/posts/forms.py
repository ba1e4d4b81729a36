"""The forms members write posts with (Flask-WTF: each carries a CSRF token), and tag names.

A tag is lower case letters, digits and + # . - (like "python3", "c++", "asp.net"),
1 to 35 characters; a question has one to five, given separated by spaces or commas.
A body's limit is the server's (TextLength): a longer text comes back whole with how much to
cut, never cut by the browser (_form.html renders no maxlength, only a live counter).
"""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, StopValidation, ValidationError

from spooler.envelope import single_line

MAX_TAGS = 5
TAG = re.compile(r"[a-z0-9+#][a-z0-9+#.\-]{0,34}")


class Written(InputRequired):
    """InputRequired that takes a text of only spaces for no text: a title of spaces is told it
    is missing, not that it needs 10 to 150 characters (the title's filter has stripped it)."""

    def __call__(self, form, field) -> None:
        if not (field.data or "").strip():
            field.errors[:] = []
            raise StopValidation(self.message)


class TextLength(Length):
    """Length that tells a member whose text is too long by how much, so they can shorten it
    (the page comes back with their text). Its max also feeds the form's live counter."""

    def __call__(self, form, field) -> None:
        length = len(field.data or "")
        if length > self.max:
            raise ValidationError(f"This is {length:,} characters long; at most {self.max:,} fit. "
                                  f"Shorten it by {length - self.max:,} and send it again.")
        super().__call__(form, field)


BODY_LENGTH = TextLength(min=10, max=30_000, message="Write 10 to 30,000 characters.")
COMMENT_LENGTH = TextLength(min=2, max=5_000, message="A comment has 2 to 5,000 characters.")
ARTICLE_LENGTH = TextLength(min=10, max=100_000, message="Write 10 to 100,000 characters.")


def tag_names(text: str) -> list[str]:
    """The tag names in `text`, lower-cased, each once, in the order given."""
    names: list[str] = []
    for name in re.split(r"[\s,]+", (text or "").strip().lower()):
        if name and name not in names:
            names.append(name)
    return names


def _valid_tags(form, field) -> None:
    names = tag_names(field.data)
    if not names:
        raise ValidationError("Add at least one tag, like python or sqlite.")
    if len(names) > MAX_TAGS:
        raise ValidationError(f"A question has at most {MAX_TAGS} tags; you gave {len(names)}.")
    for name in names:
        if not TAG.fullmatch(name):
            raise ValidationError(f"“{name}” is not a tag: use letters, digits and + # . - "
                                  "(at most 35 characters).")


def one_newline(value):
    """A form filter: line breaks as one character, as the page's counter counts them (a
    browser sends a text area's breaks as CR LF)."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def one_line_trimmed(value):
    """A form filter: the text on one line, without spaces around it."""
    return single_line(value).strip() if isinstance(value, str) else value


class QuestionForm(FlaskForm):
    title = StringField("Title", filters=[one_line_trimmed], validators=[
        Written("Give your question a title."),
        TextLength(min=10, max=150, message="A title has 10 to 150 characters.")])
    body = TextAreaField("Your question (Markdown)", filters=[one_newline], validators=[
        Written("Say what you want to know."), BODY_LENGTH])
    tags = StringField("Tags (up to 5, separated by spaces)", filters=[one_line_trimmed],
                       validators=[_valid_tags])
    submit = SubmitField("Post your question")


class AnswerForm(FlaskForm):
    body = TextAreaField("Your answer (Markdown)", filters=[one_newline], validators=[
        Written("Write your answer."), BODY_LENGTH])
    submit = SubmitField("Post your answer")


class EditAnswerForm(AnswerForm):
    submit = SubmitField("Save your edit")


class EditQuestionForm(QuestionForm):
    submit = SubmitField("Save your edit")


class ArticleForm(FlaskForm):
    title = StringField("Title", filters=[one_line_trimmed], validators=[
        Written("Give your article a title."),
        TextLength(min=10, max=150, message="A title has 10 to 150 characters.")])
    body = TextAreaField("Your article (Markdown)", filters=[one_newline], validators=[
        Written("Write your article."), ARTICLE_LENGTH])
    submit = SubmitField("Publish")


class CommentForm(FlaskForm):
    body = TextAreaField("Your comment (Markdown)", filters=[one_newline], validators=[
        Written("Write your comment."), COMMENT_LENGTH])
    submit = SubmitField("Post your comment")
