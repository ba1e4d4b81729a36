"""How the account pages answer a link that cannot be used, mail that could not be written and
a form used too often: account_blueprint() makes each account blueprint with these answers.

link_problem(): 400 with the token's reason in words (expired, not valid, already used).
mail_failed(): 503 "we could not send your ... email"; the transaction is rolled back, so
a registration leaves no account without its activation mail; the cause is logged.
429: webapp.accounts.mail_forms.too_many. A link's answers keep Referrer-Policy: no-referrer
(webapp.accounts.mail_links).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from webapp.accounts import mail_forms
from webapp.accounts.account_mail import AccountMailFailed
from webapp.accounts.tokens import TokenError
from webapp.site.extensions import db


def link_problem(error: TokenError):
    return render_template("auth/link_problem.html", problem=str(error)), 400


def mail_failed(error: AccountMailFailed):
    db.session.rollback()
    current_app.logger.error("account mail (%s) not written: %s", error.asked_for, error)
    return render_template("auth/mail_failed.html", what=error.asked_for,
                           registering=request.endpoint == "auth.register"), 503


def account_blueprint(name: str, url_prefix: str) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    bp.register_error_handler(TokenError, link_problem)
    bp.register_error_handler(AccountMailFailed, mail_failed)
    bp.register_error_handler(429, mail_forms.too_many)
    return bp
