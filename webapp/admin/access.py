"""Who may see the admin pages: admin_required, the one check every admin view wears.

A visitor is sent to the login page (Flask-Login); a member who is not an admin gets 403,
on every page and every POST.
"""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def admin_required(view):
    @wraps(view)
    @login_required
    def checked(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return checked
