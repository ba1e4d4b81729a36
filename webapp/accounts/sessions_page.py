"""Your account's pages: the sessions you are logged in with, and ending them.

Lists each live session (when it began, when it was last used, the browser by name) and
ends one, or all of them ("log out everywhere", which logs this browser out too).
Every change is a POST with a CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required, logout_user

from webapp.accounts import session_store
from webapp.accounts.browser_names import browser_name
from webapp.site.extensions import db

bp = Blueprint("account", __name__, url_prefix="/account/sessions")


@bp.route("")
@login_required
def sessions():
    this = session_store.current(current_user)
    rows = session_store.live_sessions(current_user)
    return render_template("account/sessions.html", rows=rows, this_id=this.id if this else None,
                           ends_at=session_store.ends_at, browser_name=browser_name)


@bp.route("/<int:session_id>/end", methods=["POST"])
@login_required
def end(session_id: int):
    this = session_store.current(current_user)
    ended = session_store.end(current_user, session_id)
    if this is not None and this.id == session_id:  # ending this one is logging out
        logout_user()
        flash("You are logged out.")
        return redirect(url_for("browse.index"))
    if ended:
        flash("That session is logged out.")
    return redirect(url_for("account.sessions"))


@bp.route("/end-all", methods=["POST"])
@login_required
def end_all():
    session_store.end_all(current_user)
    db.session.commit()
    logout_user()
    flash("You are logged out everywhere, this browser included.")
    return redirect(url_for("auth.login"))
