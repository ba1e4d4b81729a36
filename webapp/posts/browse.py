"""The pages that list posts: home, /questions (newest, unanswered), tags, members, search.

Each shows one page of a keyset list (webapp.posts.listing) with a link to the next
("Older") and back to the first; `?before=ID` picks the page. Nothing here writes.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user

from webapp.accounts.models import User
from webapp.posts import listing, subscriptions
from webapp.posts.models import Tag
from webapp.posts.search import KINDS
from webapp.posts.search import search as full_text_search
from webapp.site.extensions import db

bp = Blueprint("browse", __name__)

TABS = {"newest": listing.newest, "unanswered": listing.unanswered}


def _before(name: str = "before") -> int | None:
    return request.args.get(name, type=int)


@bp.app_template_global()
def page_link(name: str, before: int | None = None) -> str:
    """This page's address with its `name` cursor set to `before` (or removed: the first page)."""
    args = {**(request.view_args or {}), **request.args.to_dict()}
    args.pop(name, None)
    if before is not None:
        args[name] = before
    return url_for(request.endpoint, **args)


@bp.route("/")
def index():
    return render_template("index.html", page=listing.newest(_before()),
                           articles=listing.newest_articles(size=5))


@bp.route("/questions")
def questions():
    tab = request.args.get("tab", "newest")
    if tab not in TABS:
        abort(404)
    return render_template("browse/questions.html", page=TABS[tab](_before()), tab=tab)


@bp.route("/tags/<name>")
def tag(name: str):
    found = db.session.execute(db.select(Tag).filter_by(name=name.lower())).scalar_one_or_none()
    if found is None:
        abort(404)
    return render_template("browse/tag.html", tag=found, page=listing.tagged(found, _before()),
                           following=subscriptions.is_following(current_user, "tag", found.id),
                           followers=subscriptions.follower_count("tag", found.id))


@bp.route("/members/<int:user_id>")
def profile(user_id: int):
    member = db.session.get(User, user_id)
    if member is None or not member.is_activated:
        abort(404)
    return render_template("browse/profile.html", member=member,
                           questions=listing.asked_by(member, _before("questions_before")),
                           answers=listing.answered_by(member, _before("answers_before")),
                           articles=listing.written_by(member, _before("articles_before")))


SEARCH_IN = {"all": "posts", "questions": "questions and answers", "articles": "articles"}
ALL_SIZE = 10   # hits of each kind on the top bar's page, which shows both


@bp.route("/search")
def search():
    """The top bar's search (`in=all`: questions with their answers, and articles, the first
    hits of each), or one kind a page at a time (`in=questions|articles`, `before`)."""
    query = request.args.get("q", "").strip()[:200]
    kind = request.args.get("in", "all")
    if kind not in SEARCH_IN:
        abort(404)
    kinds = KINDS if kind == "all" else (kind,)
    results = {k: full_text_search(query, None if kind == "all" else _before(), kind=k,
                                   **({"size": ALL_SIZE} if kind == "all" else {}))
               for k in kinds} if query else {}
    return render_template("browse/search.html", query=query, kind=kind, results=results,
                           searched_in=SEARCH_IN, found=any(p.items for p in results.values()))
