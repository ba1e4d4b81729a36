"""Posts and who follows them: questions, answers, tags and votes; articles and their
comments; subscriptions (a member follows a question, an article or a tag); mentions.

Every post keeps its Markdown source and the HTML rendered from it at save, an edit mark, a
soft delete and an admin's hiding. Portable SQL; the schema is the Alembic migrations'.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from webapp.accounts.models import User
from webapp.site import page_cache
from webapp.site.database import utcnow
from webapp.site.extensions import db

question_tags = db.Table(
    "question_tags",
    db.Column("question_id", db.Integer, ForeignKey("questions.id", ondelete="CASCADE"),
              primary_key=True),
    db.Column("tag_id", db.Integer, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_question_tags_tag_id_question_id", "tag_id", "question_id"),  # a tag's page, newest first
)


class Tag(db.Model):
    """A tag of questions; members follow one to hear of new questions in it."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(35), unique=True, index=True)

    @property
    def title(self) -> str:   # what the Following and unsubscribe pages call a followed thing
        return f"questions tagged {self.name}"

    def visible_to(self, _user) -> bool:
        return True   # a tag is never hidden


class Post:
    """What questions, answers, articles and comments share: an id, an author, a Markdown
    body stored with its rendered HTML, an edit mark, a soft delete, and a hiding by an admin
    (with its reason)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body_source: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)   # webapp.posts.markdown.render(body_source), at save
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    hidden_at: Mapped[datetime | None] = mapped_column(default=None)
    hidden_reason: Mapped[str] = mapped_column(String(200), default="")

    @declared_attr
    def author(cls) -> Mapped[User]:
        return relationship(User)

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

    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(150))
    answer_count: Mapped[int] = mapped_column(default=0)   # visible, not deleted answers
    locked_at: Mapped[datetime | None] = mapped_column(default=None)

    tags: Mapped[list[Tag]] = relationship(secondary=question_tags, order_by=Tag.name)

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class Answer(Post, db.Model):
    __tablename__ = "answers"
    __table_args__ = (Index("ix_answers_question_id_id", "question_id", "id"),
                      Index("ix_answers_author_id_id", "author_id", "id"))   # a member's answers

    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    is_accepted: Mapped[bool] = mapped_column(default=False)
    score: Mapped[int] = mapped_column(default=0)   # the sum of its votes, kept with each vote

    question: Mapped[Question] = relationship()


class Article(Post, db.Model):
    __tablename__ = "articles"
    __table_args__ = (Index("ix_articles_author_id_id", "author_id", "id"),)

    title: Mapped[str] = mapped_column(String(150))


class Comment(Post, db.Model):
    """A comment on an article: flat, shown oldest first."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_article_id_id", "article_id", "id"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    article: Mapped[Article] = relationship()


class Subscription(db.Model):
    """A member follows a question, an article or a tag (kind "question" | "article" | "tag",
    target_id)."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "kind", "target_id", name="uq_subscriptions_follow"),
                      # A post's followers in user id order: the fan-out walks them so.
                      Index("ix_subscriptions_kind_target_id_user_id", "kind", "target_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mention(db.Model):
    """A member a post mentioned (@handle), and the outbox event that told them: once per
    post and member (ix_mentions_post), so an edit tells only those it adds.
    post_kind: "question" | "answer" | "article" | "comment"."""

    __tablename__ = "mentions"
    __table_args__ = (Index("ix_mentions_post", "post_kind", "post_id", "user_id", unique=True),)

    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"),
                                          primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    post_kind: Mapped[str] = mapped_column(String(10))
    post_id: Mapped[int] = mapped_column()


class Vote(db.Model):
    """One member's vote on one answer: +1 or -1; the primary key makes it once each."""

    __tablename__ = "votes"

    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"),
                                           primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    value: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# What a post is called where a row names one by kind (a Mention, a notification's event).
POSTS_BY_KIND = {"question": Question, "answer": Answer, "article": Article, "comment": Comment}
KIND_OF_POST = {model: kind for kind, model in POSTS_BY_KIND.items()}

# A change to any of these shows on public pages (names, profiles): the visitor page cache forgets.
page_cache.shows(Question, Answer, Article, Comment, Vote, Subscription, Tag)
