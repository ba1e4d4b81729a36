"""Who an outbox event goes to, and for each of them: sent, or the reason they are left out.

The fan-out worker (webapp.mail.fanout) asks next_batch() for the recipients past its
committed progress, in user id order (a newsletter: every member; an accepted answer: its
author; an answer or a comment: the question's or article's followers; a mention: the
members it names; a new question: the followers of any of its tags, each once), and
statuses() for each one's status, a kinds.SENT or a kinds.SkipReason: the post is gone, they
wrote it, the post mentions them (its mention event tells them instead), not activated,
disabled by an admin, address bouncing, notifications (or the newsletter) off, the daily
digest, waiting to see if a member "away" reads it on the site first (webapp.mail.away), or
over [webapp] max_notifications_per_day in the last 24 hours. Reads users, subscriptions,
question_tags, mentions, answers and outbox_deliveries; writes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Row, func

from webapp.accounts.models import User
from webapp.mail.kinds import SENT, EventKind, SkipReason
from webapp.mail.models import OutboxDelivery, OutboxEvent
from webapp.posts.models import Answer, Mention, Subscription, question_tags
from webapp.site.database import utcnow
from webapp.site.extensions import db

# What a recipient's decision and mail need; rows of these stand in for User objects.
RECIPIENT_COLUMNS = (User.id, User.email, User.display_name, User.activated_at, User.bouncing_at,
                     User.notify_mode, User.newsletter, User.disabled_at)
# The post a followers' event is about, as a Mention row names it: who it mentions are left out.
_MENTIONING_POST = {EventKind.ANSWER: "answer", EventKind.COMMENT: "comment",
                    EventKind.TAGGED: "question"}


def next_batch(event: OutboxEvent, done_through: int, size: int) -> list[Row]:
    """The next recipients as rows of RECIPIENT_COLUMNS: loading 10,000 User objects through
    the ORM cost more than writing their files."""
    if event.kind == EventKind.NEWSLETTER:   # every member, in id order (the primary key)
        query = db.select(*RECIPIENT_COLUMNS).where(User.id > done_through).order_by(User.id) \
            .limit(size)
    elif event.kind == EventKind.ACCEPTED:
        answerer = db.select(Answer.author_id).where(Answer.id == event.post_id).scalar_subquery()
        query = db.select(*RECIPIENT_COLUMNS).where(User.id == answerer, User.id > done_through)
    elif event.kind == EventKind.MENTION:   # in the order of the primary key (event, member)
        query = (db.select(*RECIPIENT_COLUMNS).join(Mention, Mention.user_id == User.id)
                 .where(Mention.event_id == event.id, Mention.user_id > done_through)
                 .order_by(Mention.user_id).limit(size))
    else:
        query = _followers(event, done_through, size)
    return list(db.session.execute(query))


def _followers(event: OutboxEvent, done_through: int, size: int):
    """The followers of the thread (an answer, a comment) or of the question's tags (a new
    question; one row per member however many of its tags they follow), each with
    `mentioned` set when the post mentions them."""
    mentioned = (db.select(Mention.user_id).where(
        Mention.post_kind == _MENTIONING_POST.get(event.kind, ""), Mention.post_id == event.post_id,
        Mention.user_id == User.id).exists())
    columns = (*RECIPIENT_COLUMNS, mentioned.label("mentioned"))
    if event.kind == EventKind.TAGGED:   # IN, not a join: a member following two tags is one row
        tags = db.select(question_tags.c.tag_id).where(question_tags.c.question_id == event.thread_id)
        followers = db.select(Subscription.user_id).where(Subscription.kind == "tag",
                                                          Subscription.target_id.in_(tags))
        return (db.select(*columns).where(User.id > done_through, User.id.in_(followers))
                .order_by(User.id).limit(size))
    # In the order of ix_subscriptions_kind_target_id_user_id: no sort.
    return (db.select(*columns).join(Subscription, Subscription.user_id == User.id)
            .where(Subscription.kind == event.thread_kind, Subscription.target_id == event.thread_id,
                   Subscription.user_id > done_through)
            .order_by(Subscription.user_id).limit(size))


def statuses(event: OutboxEvent, gone: bool, recipients: list[Row], cap: int, *,
             away_waits: bool = False) -> list[tuple[Row, str]]:
    """(member, status) for each recipient; `gone`: the post is deleted or hidden by now;
    `away_waits`: a member on "away" waits (SkipReason.WAITING, webapp.mail.away) rather than
    being sent to now."""
    if event.kind == EventKind.NEWSLETTER:
        return [(m, SkipReason.POST_GONE if gone else _newsletter_reason(m)) for m in recipients]
    decisions = [(m, _notification_reason(event, m, gone, away_waits)) for m in recipients]
    sent_today = _sent_today([m.id for m, status in decisions if status == SENT])
    capped = []
    for member, status in decisions:
        if status == SENT:
            if sent_today.get(member.id, 0) >= cap:
                status = SkipReason.CAP
            sent_today[member.id] = sent_today.get(member.id, 0) + 1
        capped.append((member, status))
    return capped


def _sent_today(user_ids: list[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    since = utcnow() - timedelta(days=1)
    rows = db.session.execute(
        db.select(OutboxDelivery.user_id, func.count()).where(
            OutboxDelivery.user_id.in_(user_ids), OutboxDelivery.status == SENT,
            OutboxDelivery.created_at >= since).group_by(OutboxDelivery.user_id))
    return dict(rows.all())


def _address_reason(member: Row | User) -> SkipReason | None:
    """Why no mail may go to this member at all (None: it may): the one rule for every kind,
    row by row, as User.reachable() says it in SQL."""
    if member.activated_at is None:
        return SkipReason.INACTIVE
    if member.disabled_at is not None:
        return SkipReason.DISABLED
    if member.bouncing_at is not None:
        return SkipReason.BOUNCING
    return None


def _newsletter_reason(member: Row | User) -> str:
    return _address_reason(member) or (SENT if member.newsletter else SkipReason.OPTED_OUT)


def _notification_reason(event: OutboxEvent, member: Row | User, gone: bool, away_waits: bool) -> str:
    if gone:
        return SkipReason.POST_GONE
    if member.id == event.actor_id:
        return SkipReason.AUTHOR
    if getattr(member, "mentioned", False):
        return SkipReason.MENTIONED
    if (why := _address_reason(member)) is not None:
        return why
    if member.notify_mode == "off":
        return SkipReason.OPTED_OUT
    if member.notify_mode == "daily":
        return SkipReason.DIGEST
    if member.notify_mode == "away" and away_waits:
        return SkipReason.WAITING
    return SENT
