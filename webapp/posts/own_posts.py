"""A member's own posts: the edit page and the delete button of a question, answer, article
or comment (/KIND/ID/edit, /KIND/ID/delete), the same for every kind.

Only the author changes a post (rules.check_author, asked before the form is shown); any
refusal of the rules is 403 with the reason in words, and a post the member may not see is
404. An edit is marked "edited"; a delete is soft (the post keeps its place). Every change
is a POST with a CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from flask_login import current_user, login_required

from webapp.posts import rules
from webapp.posts.forms import ArticleForm, CommentForm, EditAnswerForm, EditQuestionForm, tag_names
from webapp.posts.views import NOUNS, refused, shown_at, visible_or_404
from webapp.site.extensions import db

bp = Blueprint("own_posts", __name__)
bp.register_error_handler(rules.PostRefused, refused)

KIND = "<any(questions, answers, articles, comments):kind>"
EDIT_FORMS = {"questions": EditQuestionForm, "answers": EditAnswerForm, "articles": ArticleForm,
              "comments": CommentForm}


@bp.route(f"/{KIND}/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit(kind: str, post_id: int):
    post = visible_or_404(kind, post_id)
    rules.check_author(current_user, post)
    form = EDIT_FORMS[kind]()
    if request.method == "GET":
        _fill(form, post)
    if form.validate_on_submit():
        rules.edit(current_user, post, body=form.body.data,
                   title=form.title.data if "title" in form else None,
                   tags=tag_names(form.tags.data) if "tags" in form else None)
        db.session.commit()
        flash(f"Your {NOUNS[kind]} is saved.")
        return shown_at(post)
    if kind in ("questions", "answers"):
        return render_template("questions/edit.html", form=form, what=NOUNS[kind],
                               question=post if kind == "questions" else post.question)
    return render_template("articles/write.html", form=form, heading=f"Edit your {NOUNS[kind]}")


@bp.route(f"/{KIND}/<int:post_id>/delete", methods=["POST"])
@login_required
def delete(kind: str, post_id: int):
    post = visible_or_404(kind, post_id)
    rules.delete(current_user, post)
    db.session.commit()
    flash(f"Your {NOUNS[kind]} is deleted.")
    return shown_at(post)


def _fill(form, post) -> None:
    """The form as the post reads now."""
    form.body.data = post.body_source
    if "title" in form:
        form.title.data = post.title
    if "tags" in form:
        form.tags.data = " ".join(t.name for t in post.tags)
