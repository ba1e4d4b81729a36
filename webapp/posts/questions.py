"""The question pages: ask, show a question with its answers, answer, accept, vote.

Reading is open to everyone; every change needs a logged-in, activated member and is a
POST with a CSRF token (forms work without JavaScript). A refused action (not yours,
locked, deleted) is 403 with the reason in words. Editing and deleting one's own posts is
webapp.posts.own_posts. A member posts at most [webapp] posts_per_minute posts a minute
(webapp.posts.posting_limit); then 429 with the site's "too many" page. Answers are shown
accepted first, then by score, then oldest first; a hidden post is shown to admins and its
author only. The heading counts the answers everyone sees; deleted answers are neither
counted nor listed with them: their author (and admins) see them apart, with Restore.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, selectinload

from webapp.notices import inbox
from webapp.posts import rules, subscriptions
from webapp.posts.forms import AnswerForm, QuestionForm, tag_names
from webapp.posts.models import Answer, Question
from webapp.posts.posting_limit import posting_limit
from webapp.posts.views import refused, reply, shown_at, visible_or_404
from webapp.site.extensions import db

bp = Blueprint("questions", __name__)
bp.register_error_handler(rules.PostRefused, refused)

ANSWERS_SHOWN = 100   # a page never renders more answers than this; ?from=100 shows the next


def _question_or_404(question_id: int, options=()) -> Question:
    question = db.session.get(Question, question_id, options=options)
    if question is None or not question.visible_to(current_user):
        abort(404)
    return question


@bp.route("/questions/ask", methods=["GET", "POST"])
@login_required
@posting_limit
def ask():
    form = QuestionForm()
    if form.validate_on_submit():
        question = rules.ask(current_user, form.title.data, form.body.data, tag_names(form.tags.data))
        db.session.commit()
        return redirect(url_for("questions.show", question_id=question.id))
    return render_template("questions/ask.html", form=form)


@bp.route("/questions/<int:question_id>")
def show(question_id: int, answer_form: AnswerForm | None = None):
    # Four queries whatever the number of answers: the question with its author, its tags, the
    # answers with their authors, the follower count (the page used to load each author alone).
    question = _question_or_404(question_id, (joinedload(Question.author), selectinload(Question.tags)))
    start = max(request.args.get("from", 0, type=int), 0)
    # An offset, not a keyset: the order is by score, and it only skips this question's answers.
    rows = db.session.execute(
        _answers_of(question).where(Answer.deleted_at.is_(None))
        .order_by(Answer.is_accepted.desc(), Answer.score.desc(), Answer.created_at, Answer.id)
        .offset(start).limit(ANSWERS_SHOWN + 1)).scalars().all()
    more = start + ANSWERS_SHOWN if len(rows) > ANSWERS_SHOWN else None
    answers = [a for a in rows[:ANSWERS_SHOWN] if a.visible_to(current_user)]
    inbox.opened(current_user, "question", question.id)
    return render_template("questions/show.html", question=question, answers=answers, start=start, more=more,
                           hidden_shown=sum(a.is_hidden for a in answers), deleted=_deleted_answers(question),
                           form=answer_form or _answer_form(), my_votes=rules.votes_by(current_user, answers),
                           following=subscriptions.is_following(current_user, "question", question.id),
                           followers=subscriptions.follower_count("question", question.id))


def _answers_of(question: Question):
    return db.select(Answer).options(joinedload(Answer.author)).where(Answer.question_id == question.id)


def _deleted_answers(question: Question) -> list[Answer]:
    """The deleted answers the member may restore (theirs; all of them for an admin), listed
    apart from the answers: they are not counted, and their score shows nowhere."""
    if not current_user.is_authenticated:
        return []
    statement = _answers_of(question).where(Answer.deleted_at.is_not(None))
    if not current_user.is_admin:
        statement = statement.where(Answer.author_id == current_user.id)
    return db.session.execute(statement.order_by(Answer.id).limit(ANSWERS_SHOWN)).scalars().all()


def _answer_form() -> AnswerForm | None:
    # Only members see the form: a visitor's page makes no CSRF token, so no session cookie either.
    return AnswerForm() if current_user.is_authenticated else None


@bp.route("/questions/<int:question_id>/answers", methods=["POST"])
@login_required
@posting_limit
def answer(question_id: int):
    question = _question_or_404(question_id)
    return reply(AnswerForm(), lambda body: rules.answer(current_user, question, body),
                 lambda form: show(question_id, answer_form=form))


@bp.route("/answers/<int:answer_id>/accept", methods=["POST"])
@login_required
def accept(answer_id: int):
    post = visible_or_404("answers", answer_id)
    accepted = rules.accept(current_user, post)
    db.session.commit()
    flash("You accepted this answer." if accepted else "The answer is no longer accepted.")
    return shown_at(post)


@bp.route("/answers/<int:answer_id>/vote", methods=["POST"])
@login_required
def vote(answer_id: int):
    post = visible_or_404("answers", answer_id)
    value = {"up": 1, "down": -1}.get(request.form.get("direction", ""))
    if value is None:
        abort(400)
    rules.vote(current_user, post, value)
    db.session.commit()
    return shown_at(post)
