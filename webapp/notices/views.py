"""The Notifications page (/notifications): a member's notifications newest first, a page at a
time by keyset (?before=ID), each saying what happened and linking to it; "Mark all read".

Members only. Opening what a notification points at marks it read (webapp.posts' show views
call webapp.notices.inbox.mark_thread_read); this page itself marks nothing.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from webapp.accounts.models import User
from webapp.mail.kinds import EventKind
from webapp.notices import inbox
from webapp.posts.models import Article, Question
from webapp.site.extensions import db

bp = Blueprint("notices", __name__)
_ANCHORS = {EventKind.ANSWER: "answer", EventKind.ACCEPTED: "answer", EventKind.COMMENT: "comment"}


@bp.route("/notifications")
@login_required
def index():
    page = inbox.page(current_user.id, request.args.get("before", type=int))
    return render_template("notices/index.html", page=page, items=_shown(page.items), form=FlaskForm())


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_all_read():
    if FlaskForm().validate_on_submit():
        inbox.mark_all_read(current_user._get_current_object())
        db.session.commit()
        flash("All your notifications are marked read.")
    return redirect(url_for("notices.index"))


def _shown(notices) -> list[dict]:
    """What each row says: what happened, by whom, on which thread, and the link to it."""
    titles = {}
    for thread_kind, model in (("question", Question), ("article", Article)):
        ids = {n.thread_id for n in notices if n.thread_kind == thread_kind}
        if ids:
            for thread in db.session.execute(db.select(model).where(model.id.in_(ids))).scalars():
                if thread.visible_to(current_user):
                    titles[(thread_kind, thread.id)] = thread.title
    actor_ids = {n.actor_id for n in notices if n.actor_id is not None}
    names = dict(db.session.execute(db.select(User.id, User.display_name)
                                    .where(User.id.in_(actor_ids))).all()) if actor_ids else {}
    return [{"notice": n, "what": _words(n.kind), "actor": names.get(n.actor_id),
             "title": titles.get((n.thread_kind, n.thread_id)), "link": _link(n)} for n in notices]


def _words(kind: str) -> str:
    return EventKind(kind).words if kind in EventKind.__members__.values() else kind.replace("_", " ")


def _link(notice) -> str:
    endpoint = "articles.show" if notice.thread_kind == "article" else "questions.show"
    anchor = _ANCHORS.get(notice.kind)
    return url_for(endpoint, **{f"{notice.thread_kind}_id": notice.thread_id},
                   _anchor=f"{anchor}-{notice.post_id}" if anchor else None)
