"""Who follows what: follow and unfollow a question, an article or a tag, counts, a member's list.

A member follows what they ask or write, and what they answer or comment on when their
setting follow_on_reply is on (the default); a tag, from its page, to hear of new questions in it.
The notification fan-out (webapp.mail.fanout) reads these rows; this module only keeps them.
Following twice is one row (a unique constraint), so a double click cannot make two.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import User
from webapp.posts.listing import PAGE_SIZE, Page, read_page
from webapp.posts.models import Article, Question, Subscription, Tag, question_tags
from webapp.site.extensions import db
from webapp.site.savepoints import savepoint

FOLLOWABLE = {"question": Question, "article": Article, "tag": Tag}


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


def unfollow_tags_of(member: User, question_id: int) -> None:
    """Stop following every tag of the question (the link in a new question's mail)."""
    tags = db.select(question_tags.c.tag_id).where(question_tags.c.question_id == question_id)
    db.session.execute(db.delete(Subscription).where(
        Subscription.user_id == member.id, Subscription.kind == "tag", Subscription.target_id.in_(tags)))


def follows_tags_of(user_id: int, question_id: int) -> bool:
    tags = db.select(question_tags.c.tag_id).where(question_tags.c.question_id == question_id)
    return db.session.execute(db.select(Subscription.id).where(
        Subscription.user_id == user_id, Subscription.kind == "tag",
        Subscription.target_id.in_(tags))).first() is not None


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


def any_follower(kind: str, target_ids: list[int]) -> bool:
    if not target_ids:
        return False
    return db.session.execute(db.select(Subscription.id).where(
        Subscription.kind == kind, Subscription.target_id.in_(target_ids)).limit(1)).first() is not None


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
