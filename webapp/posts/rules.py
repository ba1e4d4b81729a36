"""The rules of posts: ask, answer, accept, vote; write an article, comment; edit, delete.

Functions take the acting member and change the session; the caller commits (one
transaction per request). Every refusal is a QAError whose message says why, in words
a member can act on. Markdown is rendered here, once, when a post is saved. Answering,
accepting and commenting add their notification event (webapp.mail.outbox) to the same
transaction.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import User
from webapp.mail import outbox
from webapp.mail.kinds import EventKind
from webapp.posts import subscriptions
from webapp.posts.markdown import render
from webapp.posts.models import Answer, Article, Comment, Question, Tag, Vote
from webapp.site.database import utcnow
from webapp.site.extensions import db

DELETED_TEXT = "deleted by its author"


class QAError(Exception):
    """An action the rules refuse; str() says why."""


def ask(author: User, title: str, body: str, tags: list[str]) -> Question:
    question = Question(author_id=author.id, title=title, body_source=body, body_html=render(body))
    question.tags = _tags(tags)
    db.session.add(question)
    db.session.flush()
    subscriptions.follow(author, "question", question.id)
    return question


def answer(author: User, question: Question, body: str) -> Answer:
    if question.is_deleted:
        raise QAError("This question was deleted; it takes no new answers.")
    if question.is_locked:
        raise QAError("This question is locked: it takes no new answers.")
    post = Answer(question_id=question.id, author_id=author.id, body_source=body, body_html=render(body))
    db.session.add(post)
    question.answer_count = Question.answer_count + 1  # in SQL: two answers at once both count
    db.session.flush()
    subscriptions.follow_reply(author, "question", question.id)
    outbox.record(EventKind.ANSWER, "question", question.id, post.id, author.id)
    return post


def edit_question(member: User, question: Question, title: str, body: str, tags: list[str]) -> None:
    _check_own(member, question)
    question.title = title
    question.tags = _tags(tags)
    _set_body(question, body)


def edit_answer(member: User, post: Answer, body: str) -> None:
    _check_own(member, post)
    _set_body(post, body)


def write_article(author: User, title: str, body: str) -> Article:
    article = Article(author_id=author.id, title=title, body_source=body, body_html=render(body))
    db.session.add(article)
    db.session.flush()
    subscriptions.follow(author, "article", article.id)
    return article


def edit_article(member: User, article: Article, title: str, body: str) -> None:
    _check_own(member, article)
    article.title = title
    _set_body(article, body)


def comment(author: User, article: Article, body: str) -> Comment:
    if article.is_deleted:
        raise QAError("This article was deleted; it takes no new comments.")
    post = Comment(article_id=article.id, author_id=author.id, body_source=body, body_html=render(body))
    db.session.add(post)
    db.session.flush()
    subscriptions.follow_reply(author, "article", article.id)
    outbox.record(EventKind.COMMENT, "article", article.id, post.id, author.id)
    return post


def edit_comment(member: User, post: Comment, body: str) -> None:
    _check_own(member, post)
    _set_body(post, body)


def delete(member: User, post) -> None:
    """Soft delete: the post keeps its place, its text becomes "deleted by its author"."""
    _check_own(member, post)
    post.deleted_at = utcnow()
    post.body_source, post.body_html = "", ""
    if isinstance(post, Answer):
        post.is_accepted = False
        db.session.execute(db.update(Question).where(Question.id == post.question_id)
                           .values(answer_count=Question.answer_count - 1))


def accept(member: User, post: Answer) -> bool:
    """The asker marks `post` as the accepted answer (another one loses the mark); accepting
    the accepted answer again takes the mark away. Returns whether it is now accepted."""
    question = post.question
    if member.id != question.author_id:
        raise QAError("Only the member who asked can accept an answer.")
    if post.is_deleted or post.is_hidden:
        raise QAError("That answer cannot be accepted.")
    if post.is_accepted:
        post.is_accepted = False
        return False
    db.session.execute(db.update(Answer).where(Answer.question_id == question.id, Answer.is_accepted)
                       .values(is_accepted=False))
    post.is_accepted = True
    outbox.record(EventKind.ACCEPTED, "question", question.id, post.id, member.id)
    return True


def vote(member: User, post: Answer, value: int) -> int:
    """Vote `post` up (+1) or down (-1), once; the same vote again takes it back, the other
    one changes it. Returns the answer's new score."""
    if value not in (1, -1):
        raise QAError("A vote is up or down.")
    if post.author_id == member.id:
        raise QAError("You cannot vote on your own answer.")
    if post.is_deleted:
        raise QAError("That answer was deleted.")
    existing = db.session.get(Vote, (post.id, member.id))
    if existing is None:
        db.session.add(Vote(answer_id=post.id, user_id=member.id, value=value))
    elif existing.value == value:
        db.session.delete(existing)
    else:
        existing.value = value
    db.session.flush()
    # Recounted from the votes, not incremented: the score cannot drift from them.
    post.score = db.session.execute(
        db.select(func.coalesce(func.sum(Vote.value), 0)).where(Vote.answer_id == post.id)).scalar_one()
    return post.score


def votes_by(member: User | None, answers: list[Answer]) -> dict[int, int]:
    """{answer id: +1 or -1} for the answers `member` voted on."""
    if member is None or not getattr(member, "is_authenticated", False) or not answers:
        return {}
    rows = db.session.execute(db.select(Vote.answer_id, Vote.value).where(
        Vote.user_id == member.id, Vote.answer_id.in_([a.id for a in answers])))
    return dict(rows.all())


def _set_body(post, body: str) -> None:
    if post.is_deleted:
        raise QAError("A deleted post cannot be edited.")
    if body != post.body_source:
        post.body_source, post.body_html = body, render(body)
    post.edited_at = utcnow()


def _check_own(member: User, post) -> None:
    if post.author_id != member.id:
        raise QAError("Only its author can change this post.")
    if post.is_deleted:
        raise QAError("This post was deleted.")


def _tags(names: list[str]) -> list[Tag]:
    existing = {t.name: t for t in db.session.execute(
        db.select(Tag).where(Tag.name.in_(names))).scalars()}
    tags = []
    for name in names:
        tag = existing.get(name) or _new_tag(name)
        tags.append(tag)
    return tags


def _new_tag(name: str) -> Tag:
    """Make tag `name`; if another request made it a moment ago, use theirs."""
    try:
        with db.session.begin_nested():
            tag = Tag(name=name)
            db.session.add(tag)
        return tag
    except IntegrityError:
        return db.session.execute(db.select(Tag).filter_by(name=name)).scalar_one()
