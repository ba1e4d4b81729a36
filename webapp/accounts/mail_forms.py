"""The forms that write mail (register, resend activation, reset a password): their rate limits,
and the address a form shows filled in after a redirect.

Each is limited per client (PER_CLIENT) and per address (PER_ADDRESS), POSTs only, in the
rate-limit store ([webapp] ratelimit_storage); a form over either answers 429 and writes no mail.
"""

from __future__ import annotations

from flask import request, session

from webapp.accounts.models import User
from webapp.site.extensions import limiter

PER_CLIENT = "20 per hour"
PER_ADDRESS = "3 per hour"
PREFILL = "prefill_email"   # session key: the address to put in the next form shown


def address_key() -> str:
    """The rate-limit key of the address typed into the posted form."""
    return "address:" + User.normalize_email(request.form.get("email", ""))


def not_posted() -> bool:
    return request.method != "POST"


def mail_form(view):
    """A form that writes mail: PER_CLIENT a client and PER_ADDRESS an address, POSTs only."""
    view = limiter.limit(PER_ADDRESS, key_func=address_key, exempt_when=not_posted)(view)
    return limiter.limit(PER_CLIENT, exempt_when=not_posted)(view)


def prefill_next_form(email: str) -> None:
    """Show `email` in the next form with an address field this browser opens."""
    session[PREFILL] = email


def prefill(form) -> None:
    if request.method == "GET" and session.get(PREFILL):
        form.email.data = session.pop(PREFILL)
