"""A link from account mail, opened: its token read once from the URL and kept in the session
behind a redirect to a plain address, where the page asks for a POST to act.

route() adds a link's URL to a blueprint; opened() answers it: it checks the token
(webapp.accounts.tokens: TokenError says why it cannot be used), keeps it in this browser's
session and redirects, with Referrer-Policy: no-referrer, so the token stays out of the address
bar, of later requests' access-log lines and of any Referer. member() reads it back (checked
again: the account may have changed since), forget() drops it once used. Nothing acts on a GET:
a mail scanner that fetches every link in a message changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, redirect, session, url_for

from webapp.accounts import tokens
from webapp.accounts.models import User
from webapp.accounts.tokens import TokenError
from webapp.site.security_headers import no_referrer


def route(bp: Blueprint, rule: str, endpoint: str, purpose: tokens.Purpose, page: str) -> None:
    """Make `rule` of `bp` the link for `purpose`, opening the endpoint `page`. The rule ends in
    <token>, in the segment after /account/activate/, /account/reset/ or /account/settings/email/:
    the access logs (webapp.site.access_log, contrib/nginx.conf) write that segment as [token]."""
    # no-referrer on the redirect and on the refusal of a bad link: both carry the token.
    bp.add_url_rule(rule, endpoint, no_referrer(lambda token: opened(purpose, token, page)))


def opened(purpose: tokens.Purpose, token: str, page: str):
    """The answer to the link's GET: `purpose`'s token kept, a redirect to the endpoint `page`."""
    tokens.read(purpose, token)
    keep(purpose, token)
    return redirect(url_for(page))


def keep(purpose: tokens.Purpose, token: str) -> None:
    session[_key(purpose)] = token


def kept(*purposes: tokens.Purpose) -> tokens.Purpose:
    """Of `purposes`, the one whose link this browser opened (the first, if none)."""
    return next((purpose for purpose in purposes if _key(purpose) in session), purposes[0])


def member(purpose: tokens.Purpose) -> User:
    """The member the kept link names; TokenError if there is none, or it no longer works."""
    token = session.get(_key(purpose))
    if token is None:
        raise TokenError(f"Open the link from your {purpose.mail} email again (in this browser).")
    try:
        return tokens.read(purpose, token)
    except TokenError:
        forget(purpose)
        raise


def forget(purpose: tokens.Purpose) -> None:
    session.pop(_key(purpose), None)


def _key(purpose: tokens.Purpose) -> str:
    return f"link:{purpose.salt}"
