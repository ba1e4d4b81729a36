"""Who follows what: follow and unfollow a question or an article, counts, a member's list.

A member follows what they ask or write, and what they answer or comment on when their
setting follow_on_reply is on (the default). The notification fan-out (webapp.mail.fanout)
reads these rows; this module only keeps them. Following twice is one row (a unique
constraint), so a double click cannot make two.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import User
from webapp.posts.listing import PAGE_SIZE, Page, read_page
from webapp.posts.models import Article, Question, Subscription
from webapp.site.extensions import db
from webapp.site.savepoints import savepoint

FOLLOWABLE = {"question": Question, "article": Article}


def follow(member: User, kind: str, target_id: int) -> None:
    if is_following(member, kind, target_id):
        return
    try:
        with savepoint():  # a concurrent follow of the same post: keep theirs
            db.session.add(Subscription(user_id=member.id, kind=kind, target_id=target_id))
    except IntegrityError:
        pass


def unfollow(member: User, kind: str, target_id: int) -> None:
    db.session.execute(db.delete(Subscription).filter_by(user_id=member.id, kind=kind, target_id=target_id))


def follow_reply(member: User, kind: str, target_id: int) -> None:
    """After answering or commenting: follow, if the member's setting says so."""
    if member.follow_on_reply:
        follow(member, kind, target_id)


def is_following(member, kind: str, target_id: int) -> bool:
    if not getattr(member, "is_authenticated", False):
        return False
    return is_following_id(member.id, kind, target_id)


def is_following_id(user_id: int, kind: str, target_id: int) -> bool:
    return db.session.execute(db.select(Subscription.id).filter_by(
        user_id=user_id, kind=kind, target_id=target_id)).first() is not None


def follower_count(kind: str, target_id: int) -> int:
    # One post's followers, through ix_subscriptions_kind_target_id_user_id: never the whole table.
    return db.session.execute(db.select(func.count()).select_from(Subscription).filter_by(
        kind=kind, target_id=target_id)).scalar_one()


def followed_by(member: User, before: int | None = None) -> tuple[Page, dict]:
    """A page of the member's subscriptions, newest first, and {(kind, id): post} for them."""
    page = read_page(db.select(Subscription).filter_by(user_id=member.id), Subscription.id, before,
                     PAGE_SIZE)
    posts = {}
    for kind, model in FOLLOWABLE.items():
        ids = [s.target_id for s in page.items if s.kind == kind]
        if ids:
            for post in db.session.execute(db.select(model).where(model.id.in_(ids))).scalars():
                posts[(kind, post.id)] = post
    return page, posts
