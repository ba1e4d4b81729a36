"""A member's own posts: the edit page and the delete button of a question, answer, article
or comment (/KIND/ID/edit, /KIND/ID/delete), and its Restore button (/KIND/ID/restore), the
same for every kind.

Only the author changes a post (rules.check_author, asked before the form is shown); any
refusal of the rules is 403 with the reason in words, and a post the member may not see is
404. An edit is marked "edited"; a delete asks first (a page with a "Yes, delete" button)
and is soft: the post keeps its place and its author or an admin can restore it. Every
change is a POST with a CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from flask_login import current_user, login_required

from webapp.posts import rules
from webapp.posts.forms import ArticleForm, CommentForm, EditAnswerForm, EditQuestionForm, tag_names
from webapp.posts.views import NOUNS, refused, shown_at, url_of, visible_or_404
from webapp.site.extensions import db

bp = Blueprint("own_posts", __name__)
bp.register_error_handler(rules.PostRefused, refused)

KIND = "<any(questions, answers, articles, comments):kind>"
bp.add_app_template_global(rules.may_restore)   # the Restore button of _post.html

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


@bp.route(f"/{KIND}/<int:post_id>/delete", methods=["GET", "POST"])
@login_required
def delete(kind: str, post_id: int):
    """The Delete link opens a page that asks; only its "Yes, delete" button (confirm=yes)
    deletes, so one stray click never does, with or without JavaScript."""
    post = visible_or_404(kind, post_id)
    rules.check_author(current_user, post)
    if post.is_deleted:
        raise rules.PostRefused("This post is deleted already; its page has Restore.")
    if request.form.get("confirm") != "yes":   # CSRF is checked for every POST (CSRFProtect)
        return render_template("posts/confirm_delete.html", post=post, kind=kind, what=NOUNS[kind],
                               back=url_of(post))
    rules.delete(current_user, post)
    db.session.commit()
    flash(f"Your {NOUNS[kind]} is deleted. You can restore it from its page.")
    return shown_at(post)


@bp.route(f"/{KIND}/<int:post_id>/restore", methods=["POST"])
@login_required
def restore(kind: str, post_id: int):
    post = visible_or_404(kind, post_id)
    rules.restore(current_user, post)
    db.session.commit()
    flash(f"The {NOUNS[kind]} is restored.")
    return shown_at(post)


def _fill(form, post) -> None:
    """The form as the post reads now."""
    form.body.data = post.body_source
    if "title" in form:
        form.title.data = post.title
    if "tags" in form:
        form.tags.data = " ".join(t.name for t in post.tags)
