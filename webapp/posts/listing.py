"""The lists of posts, a page at a time: newest, unanswered, by tag, by member; articles
and an article's comments.

Every list is read with a keyset query: newest first by id, the next page starts below
the last id shown (`before`), and one row more than a page is read to know whether there
is a next page. No list counts its rows or skips with OFFSET, so a page costs the same on
page 1 and page 5,000. Lists show what everyone may see: no hidden or deleted posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import selectinload

from webapp.accounts.models import User
from webapp.posts.models import Answer, Article, Comment, Question, Tag, question_tags
from webapp.site.extensions import db

PAGE_SIZE = 20


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_before: int | None   # the `before` of the next page; None on the last page


def read_page(statement, id_column, before: int | None, size: int = PAGE_SIZE, *,
              oldest_first: bool = False) -> Page:
    """Newest first, below `before`; or (oldest_first) oldest first, after `before`."""
    if before is not None:
        statement = statement.where(id_column > before if oldest_first else id_column < before)
    order = id_column.asc() if oldest_first else id_column.desc()
    rows = db.session.execute(statement.order_by(order).limit(size + 1)).scalars().all()
    more = len(rows) > size
    return Page(rows[:size], rows[size - 1].id if more else None)


def shown_questions():
    return (db.select(Question).where(Question.hidden_at.is_(None), Question.deleted_at.is_(None))
            .options(selectinload(Question.author), selectinload(Question.tags)))


def newest(before: int | None = None, size: int = PAGE_SIZE) -> Page:
    return read_page(shown_questions(), Question.id, before, size)


def unanswered(before: int | None = None) -> Page:
    return read_page(shown_questions().where(Question.answer_count == 0), Question.id, before)


def tagged(tag: Tag, before: int | None = None) -> Page:
    statement = shown_questions().join(question_tags, question_tags.c.question_id == Question.id) \
        .where(question_tags.c.tag_id == tag.id)
    return read_page(statement, question_tags.c.question_id, before)


def asked_by(member: User, before: int | None = None) -> Page:
    return read_page(shown_questions().where(Question.author_id == member.id), Question.id, before)


def answered_by(member: User, before: int | None = None) -> Page:
    statement = (db.select(Answer).join(Question, Question.id == Answer.question_id)
                 .where(Answer.author_id == member.id, Answer.hidden_at.is_(None),
                        Answer.deleted_at.is_(None), Question.hidden_at.is_(None),
                        Question.deleted_at.is_(None))
                 .options(selectinload(Answer.question)))
    return read_page(statement, Answer.id, before)


def shown_articles():
    return (db.select(Article).where(Article.hidden_at.is_(None), Article.deleted_at.is_(None))
            .options(selectinload(Article.author)))


def newest_articles(before: int | None = None, size: int = PAGE_SIZE) -> Page:
    return read_page(shown_articles(), Article.id, before, size)


def written_by(member: User, before: int | None = None) -> Page:
    return read_page(shown_articles().where(Article.author_id == member.id), Article.id, before)


COMMENTS_PAGE = 100


def comments_on(article: Article, after: int | None = None) -> Page:
    """Oldest first; hidden ones are filtered by the page (their author and admins see them)."""
    statement = db.select(Comment).where(Comment.article_id == article.id) \
        .options(selectinload(Comment.author))
    return read_page(statement, Comment.id, after, COMMENTS_PAGE, oldest_first=True)


def articles_by_ids(ids: list[int]) -> list[Article]:
    if not ids:
        return []
    found = {a.id: a for a in db.session.execute(shown_articles().where(Article.id.in_(ids))).scalars()}
    return [found[i] for i in ids if i in found]


def questions_by_ids(ids: list[int]) -> list[Question]:
    """The questions with these ids, in the order given (a search's order)."""
    if not ids:
        return []
    found = {q.id: q for q in db.session.execute(
        shown_questions().where(Question.id.in_(ids))).scalars()}
    return [found[i] for i in ids if i in found]
