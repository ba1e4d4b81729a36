"""What the post pages share: posts by the name their URLs give them (/questions/7,
/comments/9...), finding one a member may see, the page that shows a post, and refusing.

The question, article, own-post and moderation pages all go through these, so a post of
any kind is found, shown, replied to and refused the same way. refused() is the error
handler of rules.PostRefused (403 with the reason, nothing kept); the rules live in
rules.py.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from webapp.posts import rules
from webapp.posts.models import Answer, Article, Comment, Question
from webapp.site.extensions import db

# A post's kind as URLs name it, and what the pages call one.
POSTS_BY_URL = {"questions": Question, "answers": Answer, "articles": Article, "comments": Comment}
NOUNS = {"questions": "question", "answers": "answer", "articles": "article", "comments": "comment"}


def refused(error: rules.PostRefused):
    """A 403 page saying why (not your post, locked, hidden...); nothing is kept."""
    db.session.rollback()
    return render_template("error.html", title="Not allowed", text=str(error), code=403), 403


def post_or_404(kind: str, post_id: int):
    """The post of `kind` (a key of POSTS_BY_URL), whatever its state (for admins)."""
    return db.session.get(POSTS_BY_URL.get(kind) or abort(404), post_id) or abort(404)


def visible_or_404(kind: str, post_id: int):
    """The post, if the member may see it and what it belongs to (a hidden one: admins and
    its author only); else 404."""
    post = post_or_404(kind, post_id)
    parent = post.question if isinstance(post, Answer) else post.article if isinstance(post, Comment) \
        else post
    if not (post.visible_to(current_user) and parent.visible_to(current_user)):
        abort(404)
    return post


def shown_at(post):
    """A redirect to the page that shows `post`, at the post for an answer or a comment."""
    return redirect(url_of(post))


def url_of(post) -> str:
    """The address of the page that shows `post`, at the post for an answer or a comment."""
    if isinstance(post, Article):
        return url_for("articles.show", article_id=post.id)
    if isinstance(post, Comment):
        return url_for("articles.show", article_id=post.article_id, _anchor=f"comment-{post.id}")
    if isinstance(post, Answer):
        return url_for("questions.show", question_id=post.question_id, _anchor=f"answer-{post.id}")
    return url_for("questions.show", question_id=post.id)


def reply(form: FlaskForm, write: Callable[[str], object], page_again: Callable[[FlaskForm], object]):
    """A new answer or comment from `form`, made by `write(body)`, then the member sees it in
    its place; a form with mistakes shows the page again with them (400)."""
    if not form.validate_on_submit():
        return page_again(form), 400
    post = write(form.body.data)
    db.session.commit()
    return shown_at(post)
