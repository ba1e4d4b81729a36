"""What the question and article pages share: refusing an action, and deleting one's own post.

Both blueprints (questions.py, articles.py) call these, so a post of any kind is
deleted, refused and reported the same way. The rules themselves live in rules.py.
"""

from __future__ import annotations

from flask import flash, render_template
from flask_login import current_user

from webapp.posts import rules
from webapp.site.extensions import db


def refused(error: rules.QAError):
    """A 403 page saying why (not your post, locked, hidden...); nothing is kept."""
    db.session.rollback()
    return render_template("error.html", title="Not allowed", text=str(error), code=403), 403


def delete_own(post, what: str, back):
    """Soft-delete the member's own post, say so, and go `back` (a response to return)."""
    try:
        rules.delete(current_user, post)
    except rules.QAError as e:
        return refused(e)
    db.session.commit()
    flash(f"Your {what} is deleted.")
    return back
