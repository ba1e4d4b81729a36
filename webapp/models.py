"""The site's data: members and their login sessions; questions, answers, tags, votes;
articles and their comments; who follows what, and the outbox of notifications.

Portable SQL only (SQLite by default, PostgreSQL by changing [webapp] database_url);
the schema is managed by the Alembic migrations in migrations/.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, and_
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.site.extensions import db

# Compared against when the address is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(256))
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The member's settings (webapp.settings_page): follow what I answer or comment on;
    # mail about followed posts "instant" | "daily" | "off"; the newsletter.
    follow_on_reply: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    notify_mode: Mapped[str] = mapped_column(String(10), default="instant", server_default="instant")
    newsletter: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    # A new address waiting for its confirmation link (webapp.accounts.member_settings); None when none.
    pending_email: Mapped[str | None] = mapped_column(String(254), default=None)
    # When mail to this address started failing for good (set from the relay's feedback
    # file); a bouncing member gets no notifications or newsletter. None = not bouncing.
    bouncing_at: Mapped[datetime | None] = mapped_column(default=None)
    soft_bounces: Mapped[int] = mapped_column(default=0, server_default="0")  # since the last success
    bounce_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # When an admin disabled the account (webapp.admin.members) and that admin's address: a
    # disabled member cannot log in and gets no notifications. None = not disabled.
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_by: Mapped[str | None] = mapped_column(String(254), default=None)

    # The key of the login session this request belongs to (set by webapp.accounts.session_store);
    # Flask-Login keeps it in the session cookie. Not a column: the row holds only its hash.
    session_key = None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_activated(self) -> bool:
        return self.activated_at is not None

    @classmethod
    def reachable(cls):
        """SQL: members mail may go to at all (activated, not disabled, address not bouncing);
        webapp.mail.fanout applies the same rule row by row, to record which one left a member out."""
        return and_(cls.activated_at.is_not(None), cls.disabled_at.is_(None), cls.bouncing_at.is_(None))

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    def get_id(self) -> str | None:  # Flask-Login keeps this in the session cookie
        return self.session_key

    @staticmethod
    def normalize_email(email: str) -> str:
        return email.strip().lower()

    @classmethod
    def by_email(cls, email: str) -> User | None:
        return db.session.execute(
            db.select(cls).filter_by(email=cls.normalize_email(email))).scalar_one_or_none()


class LoginSession(db.Model):
    """One login: made by logging in, ended by logging out, by age, or by a new password."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the cookie's key: a copy of the database cannot be used to log in.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship()


question_tags = db.Table(
    "question_tags",
    db.Column("question_id", db.Integer, ForeignKey("questions.id", ondelete="CASCADE"),
              primary_key=True),
    db.Column("tag_id", db.Integer, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_question_tags_tag_id_question_id", "tag_id", "question_id"),  # a tag's page, newest first
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(35), unique=True, index=True)


class Post:
    """What a question and an answer share: a Markdown body stored with its rendered HTML,
    an author, an edit mark, a soft delete, and a hiding by an admin (with its reason)."""

    body_source: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)   # webapp.posts.markdown.render(body_source), at save
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    hidden_at: Mapped[datetime | None] = mapped_column(default=None)
    hidden_reason: Mapped[str] = mapped_column(String(200), default="")

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    def visible_to(self, user) -> bool:
        """A hidden post is seen by admins and its author only."""
        if not self.is_hidden:
            return True
        return bool(getattr(user, "is_authenticated", False)
                    and (user.is_admin or user.id == self.author_id))


class Question(Post, db.Model):
    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_created_at_id", "created_at", "id"),
                      Index("ix_questions_answer_count_id", "answer_count", "id"))  # unanswered

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(150))
    answer_count: Mapped[int] = mapped_column(default=0)   # visible, not deleted answers
    locked_at: Mapped[datetime | None] = mapped_column(default=None)

    author: Mapped[User] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=question_tags, order_by=Tag.name)

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class Answer(Post, db.Model):
    __tablename__ = "answers"
    __table_args__ = (Index("ix_answers_question_id_id", "question_id", "id"),
                      Index("ix_answers_author_id_id", "author_id", "id"))   # a member's answers

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    is_accepted: Mapped[bool] = mapped_column(default=False)
    score: Mapped[int] = mapped_column(default=0)   # the sum of its votes, kept with each vote

    author: Mapped[User] = relationship()
    question: Mapped[Question] = relationship()


class Article(Post, db.Model):
    __tablename__ = "articles"
    __table_args__ = (Index("ix_articles_author_id_id", "author_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(150))

    author: Mapped[User] = relationship()


class Comment(Post, db.Model):
    """A comment on an article: flat, shown oldest first."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_article_id_id", "article_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    author: Mapped[User] = relationship()
    article: Mapped[Article] = relationship()


class Subscription(db.Model):
    """A member follows a question or an article (kind "question" | "article", target_id)."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "kind", "target_id", name="uq_subscriptions_follow"),
                      # A post's followers in user id order: the fan-out walks them so.
                      Index("ix_subscriptions_kind_target_id_user_id", "kind", "target_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(db.Model):
    """Something followers are told about, stored in the transaction that made it.

    kind: "answer" (to the question's followers), "accepted" (to the answerer),
    "comment" (to the article's followers). The fan-out worker (webapp.mail.fanout) claims it
    with a lease (lease_token, lease_owner, lease_until), walks its recipients in user id
    order past `done_through`, and marks it done; see the README's "Exactly once".
    """

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_done_at_not_before", "done_at", "not_before", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    thread_kind: Mapped[str] = mapped_column(String(10))   # "question" | "article"
    thread_id: Mapped[int] = mapped_column()
    post_id: Mapped[int] = mapped_column()                 # the answer or the comment
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)   # created_at + notification_delay
    done_through: Mapped[int] = mapped_column(default=0)  # recipients up to this user id are done
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_owner: Mapped[str] = mapped_column(String(120), default="")
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    sent: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None] = mapped_column(default=None)


class Broadcast(db.Model):
    """A newsletter an admin sent to every activated member with the newsletter on.

    Its fan-out is an OutboxEvent of kind "newsletter" (thread_id = this id): the same
    durable, exactly-once path as notifications. Pausing moves the event's not_before to
    PAUSED; resuming sets it back to now; cancelling marks the event done.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    body_source: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    audience: Mapped[int] = mapped_column(default=0)    # members with the newsletter on at the start
    state: Mapped[str] = mapped_column(String(10), default="sending")  # sending | paused | cancelled
    event_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_events.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship()


class Digest(db.Model):
    """One member's daily digest: at most one per member per UTC day (the unique key)."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_digests_user_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column()
    placer: Mapped[str] = mapped_column(String(32))       # the staging token of the file's writer
    items: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxDelivery(db.Model):
    """What one event did for one member: "sent", or the reason it was left out.

    The primary key (event, member) is the delivery key: it names the file and the
    Message-ID, and a second row for the pair cannot exist. `placer` is the staging token
    of the process whose file this row commits (spooler.staged). Reasons: author,
    inactive, disabled, opted_out, digest, bouncing, post_gone, cap ("digest" and "cap" items
    go into the member's next digest, which sets digest_id).
    """

    __tablename__ = "outbox_deliveries"
    __table_args__ = (Index("ix_outbox_deliveries_user_id_created_at", "user_id", "created_at"),
                      Index("ix_outbox_deliveries_status_digest_id", "status", "digest_id"))

    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"),
                                          primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    placer: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="SET NULL"),
                                                  default=None)


class FeedbackCursor(db.Model):
    """How far this host's site has read its relay's feedback file (webapp.mail.bounces): the file's
    inode and the offset after the last line taken (read_to). One row per host and path."""

    __tablename__ = "feedback_cursors"
    __table_args__ = (UniqueConstraint("host", "path", name="uq_feedback_cursors_host_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(120))
    path: Mapped[str] = mapped_column(String(500))
    inode: Mapped[int] = mapped_column(BigInteger, default=0)
    read_to: Mapped[int] = mapped_column(BigInteger, default=0)


class Vote(db.Model):
    """One member's vote on one answer: +1 or -1; the primary key makes it once each."""

    __tablename__ = "votes"

    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"),
                                           primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    value: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def is_modelled(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's include_name: the search index (FTS5 tables, a PostgreSQL expression index)
    is made by migration 0004 in SQL, not by these models, so comparing skips it."""
    return not (name or "").startswith(("questions_fts", "ix_questions_search", "articles_fts",
                                        "ix_articles_search"))


def check_password_in_constant_time(user: User | None, password: str) -> bool:
    """Check a login; an unknown address costs the same hash as a known one."""
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return user.check_password(password)
