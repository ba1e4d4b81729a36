"""The article pages: the list, write, read (with its comments, oldest first), comment.

Who may write an article is [webapp] articles_by: "members" (any member) or "admins".
Any member may comment. Authors edit and delete (softly) their own articles and comments
(webapp.posts.own_posts); admins hide them (webapp.admin.moderation). Every change is a
POST with a CSRF token, and articles and comments share the posting budget
(posts_per_minute) with questions and answers.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.notices import inbox
from webapp.posts import listing, rules, subscriptions
from webapp.posts.forms import ArticleForm, CommentForm
from webapp.posts.posting_limit import posting_limit
from webapp.posts.views import refused, reply, visible_or_404
from webapp.site.config import site_config
from webapp.site.extensions import db

bp = Blueprint("articles", __name__)
bp.register_error_handler(rules.PostRefused, refused)


def may_write_articles(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return site_config().webapp.articles_by == "members" or user.is_admin


@bp.route("/articles")
def index():
    page = listing.newest_articles(request.args.get("before", type=int))
    return render_template("articles/list.html", page=page, may_write=may_write_articles(current_user))


@bp.route("/articles/write", methods=["GET", "POST"])
@login_required
@posting_limit
def write():
    if not may_write_articles(current_user):
        raise rules.PostRefused("On this site only admins write articles.")
    form = ArticleForm()
    if form.validate_on_submit():
        article = rules.write_article(current_user, form.title.data, form.body.data)
        db.session.commit()
        return redirect(url_for("articles.show", article_id=article.id))
    return render_template("articles/write.html", form=form, heading="Write an article")


@bp.route("/articles/<int:article_id>")
def show(article_id: int, comment_form: CommentForm | None = None):
    article = visible_or_404("articles", article_id)
    page = listing.comments_on(article, request.args.get("after", type=int))
    comments = [c for c in page.items if c.visible_to(current_user)]
    inbox.opened(current_user, "article", article.id)
    return render_template("articles/show.html", article=article, comments=comments, page=page,
                           form=comment_form or CommentForm(),
                           following=subscriptions.is_following(current_user, "article", article.id),
                           followers=subscriptions.follower_count("article", article.id))


@bp.route("/articles/<int:article_id>/comments", methods=["POST"])
@login_required
@posting_limit
def comment(article_id: int):
    article = visible_or_404("articles", article_id)
    return reply(CommentForm(), lambda body: rules.comment(current_user, article, body),
                 lambda form: show(article_id, comment_form=form))
