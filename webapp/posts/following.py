"""The Follow / Unfollow buttons of questions, articles and tags (POST with CSRF, no JavaScript
needed) and the Following page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.posts import subscriptions
from webapp.posts.views import shown_at
from webapp.site.extensions import db

bp = Blueprint("following", __name__)


def _target_or_404(kind: str, target_id: int):
    model = subscriptions.FOLLOWABLE.get(kind) or abort(404)
    post = db.session.get(model, target_id)
    if post is None or not post.visible_to(current_user):
        abort(404)
    return post


@bp.route("/<any(follow, unfollow):action>/<kind>/<int:target_id>", methods=["POST"])
@login_required
def change(action: str, kind: str, target_id: int):
    """The Follow and Unfollow buttons."""
    post = _target_or_404(kind, target_id)
    if action == "follow":
        subscriptions.follow(current_user, kind, target_id)
    else:
        subscriptions.unfollow(current_user, kind, target_id)
    db.session.commit()
    flash(f"You follow this {kind}." if action == "follow" else f"You no longer follow this {kind}.")
    if kind == "tag":
        return redirect(url_for("browse.tag", name=post.name))
    return shown_at(post)


@bp.route("/following")
@login_required
def index():
    page, posts = subscriptions.followed_by(current_user, request.args.get("before", type=int))
    # A post hidden since it was followed is left out (unless it is the member's own).
    shown = {key: post for key, post in posts.items() if post.visible_to(current_user)}
    return render_template("following.html", page=page, posts=shown)
