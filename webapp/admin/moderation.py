"""What admins do to posts: hide a question, answer, article or comment (with a reason) and
lock a question.

A hidden post is seen only by admins and its author (who also sees the reason); everyone
else gets 404 for a hidden question and does not see a hidden answer. A locked question
takes no new answers. Hiding and locking are undone by the same buttons; every one is
a POST with a CSRF token, and a member who is not an admin gets 403.
"""

from __future__ import annotations

from flask import Blueprint, flash

from webapp.admin.access import admin_required
from webapp.admin.forms import HideForm
from webapp.posts.models import Answer, Question
from webapp.posts.views import post_or_404, shown_at
from webapp.site.database import utcnow
from webapp.site.extensions import db

bp = Blueprint("moderation", __name__, url_prefix="/moderation")


def hide(post, reason: str) -> None:
    if isinstance(post, Answer) and not post.is_hidden and not post.is_deleted:
        _count_answer(post, -1)
    post.hidden_at, post.hidden_reason = utcnow(), reason


def unhide(post) -> None:
    if isinstance(post, Answer) and post.is_hidden and not post.is_deleted:
        _count_answer(post, +1)
    post.hidden_at, post.hidden_reason = None, ""


def _count_answer(post: Answer, change: int) -> None:
    # A question's answer_count is what others see: hidden answers do not count.
    db.session.execute(db.update(Question).where(Question.id == post.question_id)
                       .values(answer_count=Question.answer_count + change))


@bp.route("/<kind>/<int:post_id>/hide", methods=["POST"])
@admin_required
def hide_post(kind: str, post_id: int):
    post = post_or_404(kind, post_id)
    form = HideForm()
    if not form.validate_on_submit():
        flash(" ".join(form.reason.errors) or "Say why it is hidden.")
        return shown_at(post)
    hide(post, form.reason.data)
    db.session.commit()
    flash("Hidden: only admins and its author see it now.")
    return shown_at(post)


@bp.route("/<kind>/<int:post_id>/unhide", methods=["POST"])
@admin_required
def unhide_post(kind: str, post_id: int):
    post = post_or_404(kind, post_id)
    unhide(post)
    db.session.commit()
    flash("Shown to everyone again.")
    return shown_at(post)


@bp.route("/questions/<int:question_id>/lock", methods=["POST"])
@admin_required
def lock(question_id: int):
    question = post_or_404("questions", question_id)
    question.locked_at = None if question.is_locked else utcnow()
    db.session.commit()
    flash("Locked: no new answers." if question.is_locked else "Unlocked: it takes answers again.")
    return shown_at(question)
