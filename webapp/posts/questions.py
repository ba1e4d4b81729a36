"""The question pages: ask, show a question with its answers, answer, accept, vote, edit, delete.

Reading is open to everyone; every change needs a logged-in, activated member and is a
POST with a CSRF token (forms work without JavaScript). A refused action (not yours,
locked, deleted) is 403 with the reason in words. A member posts at most [webapp]
posts_per_minute questions and answers a minute (only posts that were made count);
then 429 with the site's "too many" page. Answers are shown accepted first, then
by score, then oldest first; a hidden post is shown to admins and its author only.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, selectinload

from webapp.posts import rules, subscriptions
from webapp.posts.forms import AnswerForm, EditAnswerForm, EditQuestionForm, QuestionForm, tag_names
from webapp.posts.models import Answer, Question
from webapp.posts.views import delete_own, refused
from webapp.site.config import site_config
from webapp.site.extensions import db, limiter

bp = Blueprint("questions", __name__)

ANSWERS_SHOWN = 100   # a page never renders more answers than this; ?from=100 shows the next


def _question_or_404(question_id: int, options=()) -> Question:
    question = db.session.get(Question, question_id, options=options)
    if question is None or not question.visible_to(current_user):
        abort(404)
    return question


def _answer_or_404(answer_id: int) -> Answer:
    post = db.session.get(Answer, answer_id)
    if post is None or not post.visible_to(current_user) or not post.question.visible_to(current_user):
        abort(404)
    return post


def _posts_per_minute() -> str:
    return f"{site_config().webapp.posts_per_minute} per minute"


def _poster() -> str:
    return f"poster:{current_user.get_id() and current_user.id}"


def _not_a_post() -> bool:
    return request.method != "POST" or not current_user.is_authenticated


def _posted(response) -> bool:
    return response.status_code == 302


# One budget for questions and answers together, per member.
posting_limit = limiter.shared_limit(_posts_per_minute, scope="posts", key_func=_poster,
                                     exempt_when=_not_a_post, deduct_when=_posted)


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
        db.select(Answer).options(joinedload(Answer.author)).where(Answer.question_id == question.id)
        .order_by(Answer.is_accepted.desc(), Answer.score.desc(), Answer.created_at, Answer.id)
        .offset(start).limit(ANSWERS_SHOWN + 1)).scalars().all()
    more = start + ANSWERS_SHOWN if len(rows) > ANSWERS_SHOWN else None
    answers = [a for a in rows[:ANSWERS_SHOWN] if a.visible_to(current_user)]
    return render_template("questions/show.html", question=question, answers=answers, start=start, more=more,
                           form=answer_form or _answer_form(), my_votes=rules.votes_by(current_user, answers),
                           following=subscriptions.is_following(current_user, "question", question.id),
                           followers=subscriptions.follower_count("question", question.id))


def _answer_form() -> AnswerForm | None:
    # Only members see the form: a visitor's page makes no CSRF token, so no session cookie either.
    return AnswerForm() if current_user.is_authenticated else None


@bp.route("/questions/<int:question_id>/answers", methods=["POST"])
@login_required
@posting_limit
def answer(question_id: int):
    question = _question_or_404(question_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return show(question_id, answer_form=form), 400
    try:
        post = rules.answer(current_user, question, form.body.data)
    except rules.QAError as e:
        return refused(e)
    db.session.commit()
    return redirect(url_for("questions.show", question_id=question.id, _anchor=f"answer-{post.id}"))


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@login_required
def edit_question(question_id: int):
    question = _question_or_404(question_id)
    form = EditQuestionForm()
    if request.method == "GET":
        form.title.data = question.title
        form.body.data = question.body_source
        form.tags.data = " ".join(t.name for t in question.tags)
    if question.author_id != current_user.id:
        return refused(rules.QAError("Only its author can change this post."))
    if form.validate_on_submit():
        try:
            rules.edit_question(current_user, question, form.title.data, form.body.data,
                             tag_names(form.tags.data))
        except rules.QAError as e:
            return refused(e)
        db.session.commit()
        flash("Your question is saved.")
        return redirect(url_for("questions.show", question_id=question.id))
    return render_template("questions/edit.html", form=form, what="question", question=question)


@bp.route("/answers/<int:answer_id>/edit", methods=["GET", "POST"])
@login_required
def edit_answer(answer_id: int):
    post = _answer_or_404(answer_id)
    form = EditAnswerForm()
    if request.method == "GET":
        form.body.data = post.body_source
    if post.author_id != current_user.id:
        return refused(rules.QAError("Only its author can change this post."))
    if form.validate_on_submit():
        try:
            rules.edit_answer(current_user, post, form.body.data)
        except rules.QAError as e:
            return refused(e)
        db.session.commit()
        flash("Your answer is saved.")
        return _to_answer(post)
    return render_template("questions/edit.html", form=form, what="answer", question=post.question)


@bp.route("/questions/<int:question_id>/delete", methods=["POST"])
@login_required
def delete_question(question_id: int):
    question = _question_or_404(question_id)
    return delete_own(question, "question", redirect(url_for("questions.show", question_id=question.id)))


@bp.route("/answers/<int:answer_id>/delete", methods=["POST"])
@login_required
def delete_answer(answer_id: int):
    post = _answer_or_404(answer_id)
    return delete_own(post, "answer", _to_answer(post))


@bp.route("/answers/<int:answer_id>/accept", methods=["POST"])
@login_required
def accept(answer_id: int):
    post = _answer_or_404(answer_id)
    try:
        accepted = rules.accept(current_user, post)
    except rules.QAError as e:
        return refused(e)
    db.session.commit()
    flash("You accepted this answer." if accepted else "The answer is no longer accepted.")
    return _to_answer(post)


@bp.route("/answers/<int:answer_id>/vote", methods=["POST"])
@login_required
def vote(answer_id: int):
    post = _answer_or_404(answer_id)
    value = {"up": 1, "down": -1}.get(request.form.get("direction", ""))
    if value is None:
        abort(400)
    try:
        rules.vote(current_user, post, value)
    except rules.QAError as e:
        return refused(e)
    db.session.commit()
    return _to_answer(post)


def _to_answer(post: Answer):
    return redirect(url_for("questions.show", question_id=post.question_id, _anchor=f"answer-{post.id}"))
