"""What admins do to posts: hide a question, answer, article or comment (with a reason) and
lock a question.

A hidden post is seen only by admins and its author (who also sees the reason); everyone
else gets 404 for a hidden question and does not see a hidden answer. A locked question
takes no new answers. Hiding and locking are undone by the same buttons; every one is
a POST with a CSRF token, and a member who is not an admin gets 403.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for

from webapp.admin.access import admin_required
from webapp.admin.forms import HideForm
from webapp.posts.models import Answer, Article, Comment, Question
from webapp.site.database import utcnow
from webapp.site.extensions import db

bp = Blueprint("moderation", __name__, url_prefix="/moderation")


MODERATED = {"questions": Question, "answers": Answer, "articles": Article, "comments": Comment}


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


def _post_or_404(kind: str, post_id: int):
    post = db.session.get(MODERATED.get(kind) or abort(404), post_id)
    return post or abort(404)


def _back_to(post):
    if isinstance(post, Article):
        return redirect(url_for("articles.show", article_id=post.id))
    if isinstance(post, Comment):
        return redirect(url_for("articles.show", article_id=post.article_id, _anchor=f"comment-{post.id}"))
    if isinstance(post, Answer):
        return redirect(url_for("questions.show", question_id=post.question_id, _anchor=f"answer-{post.id}"))
    return redirect(url_for("questions.show", question_id=post.id))


@bp.route("/<kind>/<int:post_id>/hide", methods=["POST"])
@admin_required
def hide_post(kind: str, post_id: int):
    post = _post_or_404(kind, post_id)
    form = HideForm()
    if not form.validate_on_submit():
        flash(" ".join(form.reason.errors) or "Say why it is hidden.")
        return _back_to(post)
    hide(post, form.reason.data)
    db.session.commit()
    flash("Hidden: only admins and its author see it now.")
    return _back_to(post)


@bp.route("/<kind>/<int:post_id>/unhide", methods=["POST"])
@admin_required
def unhide_post(kind: str, post_id: int):
    post = _post_or_404(kind, post_id)
    unhide(post)
    db.session.commit()
    flash("Shown to everyone again.")
    return _back_to(post)


@bp.route("/questions/<int:question_id>/lock", methods=["POST"])
@admin_required
def lock(question_id: int):
    question = _post_or_404("questions", question_id)
    question.locked_at = None if question.is_locked else utcnow()
    db.session.commit()
    flash("Locked: no new answers." if question.is_locked else "Unlocked: it takes answers again.")
    return _back_to(question)
