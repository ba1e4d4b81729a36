"""How the account pages answer a link that cannot be used and mail that could not be written.

link_problem(): 400 with the token's reason in words (expired, not valid, already used).
mail_failed(): 503 "we could not send your ... email"; the transaction is rolled back, so
a registration leaves no account without its activation mail; the cause is logged. The
auth and settings blueprints register both as their error handlers.
"""

from __future__ import annotations

from flask import current_app, render_template, request

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
