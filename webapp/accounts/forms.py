"""The account forms (Flask-WTF: every form carries a CSRF token) and their messages in words.

Addresses are checked by email-validator, without a DNS look-up. Reserved domains
(.test, .localhost, .local, .invalid...) cannot receive mail from the internet and
are refused saying so, except in a local run (webapp.site.config.is_local_run: the
smart host is the local sink), where the README's examples at example.test must work.
"""

import email_validator
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from spooler.envelope import single_line
from webapp.site.config import is_local_run, site_config

PASSWORD_LENGTH = Length(min=8, max=200,
                         message="Choose a password of at least 8 characters (at most 200).")


def _one_line(value):
    return single_line(value) if isinstance(value, str) else value


class MailAddress:
    """A deliverable-looking address; its refusal says what is wrong with it."""

    def __call__(self, form, field):
        address = field.data or ""
        domain = address.rpartition("@")[2]
        if "@" in address and is_reserved(domain):
            if not is_local_run(site_config()):
                raise ValidationError(
                    f"Mail cannot reach {domain}: names ending in .test, .local, .localhost or "
                    ".invalid are reserved for testing and private networks. Use an address "
                    "that can receive mail.")
            # email-validator refuses every reserved name: check the rest of the address
            # as if its domain were an ordinary name under .example (RFC 2606).
            address += ".example"
        try:
            email_validator.validate_email(address, check_deliverability=False)
        except email_validator.EmailNotValidError as e:
            if "@" not in address:
                raise ValidationError("An email address has an @-sign, like name@example.org.") from None
            raise ValidationError(str(e)) from None  # its own words: "The part after the @-sign..."


def is_reserved(domain: str) -> bool:
    """A special-use name (RFC 6761 .test, .localhost, .invalid; .local, .onion, .arpa)."""
    name = domain.lower().rstrip(".")
    return any(name == reserved or name.endswith("." + reserved)
               for reserved in email_validator.SPECIAL_USE_DOMAIN_NAMES)


# Fields more than one form asks for, made anew for each (a form's fields show in the
# order they were made).
def _display_name() -> StringField:
    return StringField("Display name", filters=[_one_line], validators=[
        InputRequired("Choose a display name."),
        Length(min=2, max=80, message="A display name has 2 to 80 characters.")])


def _address(label: str = "Email", missing: str = "Enter your email address.") -> EmailField:
    return EmailField(label, validators=[InputRequired(missing), MailAddress(), Length(max=254)])


def _new_password(label: str = "New password") -> PasswordField:
    return PasswordField(label, validators=[InputRequired("Choose a password."), PASSWORD_LENGTH])


def _repeated(label: str = "Repeat new password") -> PasswordField:
    return PasswordField(label, validators=[InputRequired("Repeat the password."),
                                            EqualTo("password", "The passwords differ.")])


def _current_password() -> PasswordField:
    return PasswordField("Current password", validators=[InputRequired("Enter your current password.")])


class RegisterForm(FlaskForm):
    display_name = _display_name()
    email = _address()
    password = _new_password("Password")
    confirm = _repeated("Repeat password")
    # Opt-in: off unless the member ticks it (they can change it in their settings).
    newsletter = BooleanField("Send me the newsletter (news of the site, now and then)", default=False)
    submit = SubmitField("Create account")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired("Enter your email address."), MailAddress()])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    submit = SubmitField("Log in")


class EmailOnlyForm(FlaskForm):
    email = _address()
    submit = SubmitField("Send")


class NewPasswordForm(FlaskForm):
    password = _new_password()
    confirm = _repeated()
    submit = SubmitField("Set password")


class PreferencesForm(FlaskForm):
    display_name = _display_name()
    notify_mode = RadioField("Email about what you follow", choices=[
        SelectChoice("away", "When I'm away: what I have not read on the site"),
        SelectChoice("instant", "Always, at once"), SelectChoice("daily", "A daily digest"),
        SelectChoice("off", "Never")], default="away")
    follow_on_reply = BooleanField("Follow what I answer or comment on")
    newsletter = BooleanField("Send me the newsletter")
    submit = SubmitField("Save settings")


class ChangePasswordForm(FlaskForm):
    current_password = _current_password()
    password = _new_password()
    confirm = _repeated()
    submit = SubmitField("Change password")


class ChangeEmailForm(FlaskForm):
    email = _address("New email", "Enter the new address.")
    current_password = _current_password()
    submit = SubmitField("Send a confirmation link")
