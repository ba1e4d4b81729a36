"""The account forms (Flask-WTF: every form carries a CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import Email, EqualTo, InputRequired, Length

from spooler.envelope import single_line


def _one_line(value):
    return single_line(value) if isinstance(value, str) else value


class RegisterForm(FlaskForm):
    display_name = StringField("Display name", filters=[_one_line],
                               validators=[InputRequired(), Length(min=2, max=80)])
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat password",
                            validators=[InputRequired(), EqualTo("password", "The passwords differ.")])
    submit = SubmitField("Create account")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Email()])
    password = PasswordField("Password", validators=[InputRequired()])
    submit = SubmitField("Log in")


class EmailOnlyForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=254)])
    submit = SubmitField("Send")


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat new password",
                            validators=[InputRequired(), EqualTo("password", "The passwords differ.")])
    submit = SubmitField("Set password")
