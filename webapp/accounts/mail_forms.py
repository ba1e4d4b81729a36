"""The forms that write mail (register, resend activation, reset a password): their rate limits,
and the address a form shows filled in after a redirect.

Each is limited per client (PER_CLIENT) and per address (PER_ADDRESS), POSTs only, in the
rate-limit store ([webapp] ratelimit_storage); a form over either answers 429 and writes no mail.
Anyone can use up an address's limit, its owner's included, but not shut the owner out: a limit
counts an hour from its first use, and the links in the mails that used it up work for an hour
at least (webapp.accounts.tokens), so while a form refuses an address, the newest mail it sent
there still works, and the 429 page (too_many) says so.
"""

from __future__ import annotations

from flask import current_app, render_template, request, session

from webapp.accounts.models import User
from webapp.site.extensions import limiter
from webapp.site.too_many import page, wait

PER_CLIENT = "20 per hour"
PER_ADDRESS = "3 per hour"   # no more than an hour: see above
PREFILL = "prefill_email"   # session key: the address to put in the next form shown


def address_key() -> str:
    """The rate-limit key of the address typed into the posted form."""
    return "address:" + User.normalize_email(request.form.get("email", ""))


def not_posted() -> bool:
    return request.method != "POST"


def mail_form(view):
    """A form that writes mail: PER_CLIENT a client and PER_ADDRESS an address, POSTs only."""
    view = limiter.limit(PER_ADDRESS, key_func=address_key, exempt_when=not_posted)(view)
    view = limiter.limit(PER_CLIENT, exempt_when=not_posted)(view)
    view.writes_mail = True   # for too_many()
    return view


def prefill_next_form(email: str) -> None:
    """Show `email` in the next form with an address field this browser opens."""
    session[PREFILL] = email


def prefill(form) -> None:
    if request.method == "GET" and session.get(PREFILL):
        form.email.data = session.pop(PREFILL)


def too_many(error):
    """The 429 page of the account blueprints: for a mail form, the mails already sent have links
    that work; for any other page, the site's own."""
    limit = getattr(error, "description", "")
    if getattr(current_app.view_functions.get(request.endpoint), "writes_mail", False):
        return render_template("auth/too_many_mails.html", limit=limit, wait=wait()), 429
    return page(error)
