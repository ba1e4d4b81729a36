"""The rules of posts: ask, answer, accept, vote; write an article, comment; edit, delete.

Functions take the acting member and change the session; the caller commits (one
transaction per request). Every refusal is a PostRefused whose message says why, in words
a member can act on. Markdown is rendered here, once, when a post is saved. Answering,
accepting, commenting and asking in tags add their notification event (webapp.mail.outbox)
to the same transaction, and so does a post that @mentions members (webapp.posts.mentions).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import User
from webapp.mail import outbox
from webapp.mail.kinds import EventKind
from webapp.posts import mentions, subscriptions
from webapp.posts.models import KIND_OF_POST, Answer, Article, Comment, Question, Tag, Vote
from webapp.site.database import utcnow
from webapp.site.extensions import db
from webapp.site.savepoints import savepoint


class PostRefused(Exception):
    """An action the rules refuse; str() says why."""


def ask(author: User, title: str, body: str, tags: list[str]) -> Question:
    rendered = mentions.render_body(body)
    question = Question(author_id=author.id, title=title, **rendered.columns)
    question.tags = _tags(tags)
    _started(author, question, "question", rendered)
    # The tags' followers hear of it (webapp.mail.recipients); no event when a tag has none.
    if subscriptions.any_follower("tag", [t.id for t in question.tags]):
        outbox.record(EventKind.TAGGED, "question", question.id, question.id, author.id)
    return question


def write_article(author: User, title: str, body: str) -> Article:
    rendered = mentions.render_body(body)
    return _started(author, Article(author_id=author.id, title=title, **rendered.columns), "article",
                    rendered)


def check_takes_answers(question: Question) -> None:
    """PostRefused when `question` takes no new answers (deleted, locked)."""
    if question.is_deleted:
        raise PostRefused("This question was deleted; it takes no new answers.")
    if question.is_locked:
        raise PostRefused("This question is locked: it takes no new answers.")


def check_takes_comments(article: Article) -> None:
    """PostRefused when `article` takes no new comments (deleted)."""
    if article.is_deleted:
        raise PostRefused("This article was deleted; it takes no new comments.")


def answer(author: User, question: Question, body: str) -> Answer:
    check_takes_answers(question)
    question.answer_count = Question.answer_count + 1  # in SQL: two answers at once both count
    rendered = mentions.render_body(body)
    post = Answer(question_id=question.id, author_id=author.id, **rendered.columns)
    return _replied(author, post, EventKind.ANSWER, "question", question.id, rendered)


def comment(author: User, article: Article, body: str) -> Comment:
    check_takes_comments(article)
    rendered = mentions.render_body(body)
    post = Comment(article_id=article.id, author_id=author.id, **rendered.columns)
    return _replied(author, post, EventKind.COMMENT, "article", article.id, rendered)


def _started(author: User, post, kind: str, rendered: mentions.RenderedBody):
    """A new question or article, stored; its author follows it; those it mentions are told."""
    db.session.add(post)
    db.session.flush()
    subscriptions.follow(author, kind, post.id)
    mentions.tell(author, rendered.mentioned, kind, post.id, kind, post.id)
    return post


def _replied(author: User, post, event: EventKind, thread_kind: str, thread_id: int,
             rendered: mentions.RenderedBody):
    """A new answer or comment, stored with its event; its author follows the thread if their
    setting says so; those it mentions are told."""
    db.session.add(post)
    db.session.flush()
    subscriptions.follow_reply(author, thread_kind, thread_id)
    outbox.record(event, thread_kind, thread_id, post.id, author.id)
    mentions.tell(author, rendered.mentioned, post_kind_of(post), post.id, thread_kind, thread_id)
    return post


def post_kind_of(post) -> str:
    """"question", "answer", "article" or "comment": what a Mention row calls the post."""
    return KIND_OF_POST[type(post)]


def _thread_of(post) -> tuple[str, int]:
    if isinstance(post, Answer):
        return "question", post.question_id
    if isinstance(post, Comment):
        return "article", post.article_id
    return post_kind_of(post), post.id


def edit(member: User, post, *, body: str, title: str | None = None, tags: list[str] | None = None) -> None:
    """The author changes their post: its body, and a question's or article's title (and a
    question's tags) when given. Marked "edited"."""
    _check_own(member, post)
    if title is not None:
        post.title = title
    if tags is not None:
        post.tags = _tags(tags)
    _set_body(member, post, body)


def delete(member: User, post) -> None:
    """Soft delete: the post keeps its place, its pages say "deleted by its author". The text is
    kept (no page shows it) so that restore() brings it back."""
    _check_own(member, post)
    post.deleted_at = utcnow()
    if isinstance(post, Answer):
        post.is_accepted = False
        _count_answer(post, -1)


def may_restore(member, post) -> bool:
    """Its author or an admin brings a deleted post back."""
    return bool(post.is_deleted and getattr(member, "is_authenticated", False)
                and (member.is_admin or member.id == post.author_id))


def restore(member: User, post) -> None:
    """Undo delete(): the post shows again as it was (an answer counts again; its votes were
    kept, the accepted mark was not)."""
    if not post.is_deleted:
        raise PostRefused("This post is not deleted.")
    if not may_restore(member, post):
        raise PostRefused("Only its author or an admin can restore this post.")
    post.deleted_at = None
    if isinstance(post, Answer):
        _count_answer(post, +1)


def _count_answer(post: Answer, change: int) -> None:
    # Hidden answers are already left out of the count (webapp.admin.moderation).
    if not post.is_hidden:
        db.session.execute(db.update(Question).where(Question.id == post.question_id)
                           .values(answer_count=Question.answer_count + change))


def accept(member: User, post: Answer) -> bool:
    """The asker marks `post` as the accepted answer (another one loses the mark); accepting
    the accepted answer again takes the mark away. Returns whether it is now accepted."""
    question = post.question
    if member.id != question.author_id:
        raise PostRefused("Only the member who asked can accept an answer.")
    if post.is_deleted or post.is_hidden:
        raise PostRefused("That answer cannot be accepted.")
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
        raise PostRefused("A vote is up or down.")
    if post.author_id == member.id:
        raise PostRefused("You cannot vote on your own answer.")
    if post.is_deleted:
        raise PostRefused("That answer was deleted.")
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


def _set_body(member: User, post, body: str) -> None:
    if post.is_deleted:
        raise PostRefused("A deleted post cannot be edited.")
    if body != post.body_source:
        rendered = mentions.render_body(body)
        post.body_source, post.body_html = body, rendered.html
        # Only the members this edit adds are told: the rows say who was told before.
        mentions.tell(member, rendered.mentioned, post_kind_of(post), post.id, *_thread_of(post))
    post.edited_at = utcnow()


def check_author(member: User, post) -> None:
    """The one author check: only a post's author changes it (the edit pages ask it first)."""
    if post.author_id != member.id:
        raise PostRefused("Only its author can change this post.")


def _check_own(member: User, post) -> None:
    check_author(member, post)
    if post.is_deleted:
        raise PostRefused("This post was deleted.")


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
        with savepoint():
            tag = Tag(name=name)
            db.session.add(tag)
        return tag
    except IntegrityError:
        return db.session.execute(db.select(Tag).filter_by(name=name)).scalar_one()
