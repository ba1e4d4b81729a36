"""The article pages: write, read (with its comments, oldest first), comment, edit, delete.

Who may write an article is [webapp] articles_by: "members" (any member) or "admins".
Any member may comment. Authors edit and delete (softly) their own articles and comments;
admins hide them (webapp.admin.moderation). Every change is a POST with a CSRF token, and
articles and comments share the posting budget (posts_per_minute) with questions and answers.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.posts import listing, rules, subscriptions
from webapp.posts.forms import ArticleForm, CommentForm
from webapp.posts.models import Article, Comment
from webapp.posts.questions import posting_limit
from webapp.posts.views import delete_own, refused
from webapp.site.config import site_config
from webapp.site.extensions import db

bp = Blueprint("articles", __name__)


def may_write_articles(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return site_config().webapp.articles_by == "members" or user.is_admin


def _article_or_404(article_id: int) -> Article:
    article = db.session.get(Article, article_id)
    if article is None or not article.visible_to(current_user):
        abort(404)
    return article


def _comment_or_404(comment_id: int) -> Comment:
    post = db.session.get(Comment, comment_id)
    if post is None or not post.visible_to(current_user) or not post.article.visible_to(current_user):
        abort(404)
    return post


def _to_comment(post: Comment):
    return redirect(url_for("articles.show", article_id=post.article_id, _anchor=f"comment-{post.id}"))


@bp.route("/articles")
def index():
    page = listing.newest_articles(request.args.get("before", type=int))
    return render_template("articles/list.html", page=page, may_write=may_write_articles(current_user))


@bp.route("/articles/write", methods=["GET", "POST"])
@login_required
@posting_limit
def write():
    if not may_write_articles(current_user):
        return refused(rules.QAError("On this site only admins write articles."))
    form = ArticleForm()
    if form.validate_on_submit():
        article = rules.write_article(current_user, form.title.data, form.body.data)
        db.session.commit()
        return redirect(url_for("articles.show", article_id=article.id))
    return render_template("articles/write.html", form=form, heading="Write an article")


@bp.route("/articles/<int:article_id>")
def show(article_id: int, comment_form: CommentForm | None = None):
    article = _article_or_404(article_id)
    page = listing.comments_on(article, request.args.get("after", type=int))
    comments = [c for c in page.items if c.visible_to(current_user)]
    return render_template("articles/show.html", article=article, comments=comments, page=page,
                           form=comment_form or CommentForm(),
                           following=subscriptions.is_following(current_user, "article", article.id),
                           followers=subscriptions.follower_count("article", article.id))


@bp.route("/articles/<int:article_id>/comments", methods=["POST"])
@login_required
@posting_limit
def comment(article_id: int):
    article = _article_or_404(article_id)
    form = CommentForm()
    if not form.validate_on_submit():
        return show(article_id, comment_form=form), 400
    try:
        post = rules.comment(current_user, article, form.body.data)
    except rules.QAError as e:
        return refused(e)
    db.session.commit()
    return _to_comment(post)


@bp.route("/articles/<int:article_id>/edit", methods=["GET", "POST"])
@login_required
def edit(article_id: int):
    article = _article_or_404(article_id)
    if article.author_id != current_user.id:
        return refused(rules.QAError("Only its author can change this post."))
    form = ArticleForm()
    if request.method == "GET":
        form.title.data, form.body.data = article.title, article.body_source
    if form.validate_on_submit():
        try:
            rules.edit_article(current_user, article, form.title.data, form.body.data)
        except rules.QAError as e:
            return refused(e)
        db.session.commit()
        flash("Your article is saved.")
        return redirect(url_for("articles.show", article_id=article.id))
    return render_template("articles/write.html", form=form, heading="Edit your article")


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
@login_required
def edit_comment(comment_id: int):
    post = _comment_or_404(comment_id)
    if post.author_id != current_user.id:
        return refused(rules.QAError("Only its author can change this post."))
    form = CommentForm()
    if request.method == "GET":
        form.body.data = post.body_source
    if form.validate_on_submit():
        try:
            rules.edit_comment(current_user, post, form.body.data)
        except rules.QAError as e:
            return refused(e)
        db.session.commit()
        flash("Your comment is saved.")
        return _to_comment(post)
    return render_template("articles/write.html", form=form, heading="Edit your comment")


@bp.route("/articles/<int:article_id>/delete", methods=["POST"])
@login_required
def delete(article_id: int):
    article = _article_or_404(article_id)
    return delete_own(article, "article", redirect(url_for("articles.show", article_id=article.id)))


@bp.route("/comments/<int:comment_id>/delete", methods=["POST"])
@login_required
def delete_comment(comment_id: int):
    post = _comment_or_404(comment_id)
    return delete_own(post, "comment", _to_comment(post))
