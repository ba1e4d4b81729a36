"""A big site database for the site benchmarks, filled by bulk inserts straight into the tables.

Members, tags, questions with their tags and answers (bodies rendered once, as the site does at
save), and votes: what bench/site_pages.py and bench/site_load.py read. Writes through SQLAlchemy
Core on one Connection, so the same rows go into SQLite (the search triggers fire) and PostgreSQL
(ids are given explicitly: the id sequences are not advanced, the benchmarks only read).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from webapp.posts.markdown import render
from webapp.site.extensions import db

MEMBERS, TAGS = 20_000, 1_000
ANSWERS_PER_QUESTION = 3
BIG_QUESTION_ANSWERS = 50
# 3,000 rare words and a few common ones ("python" is in about a third of the questions).
WORDS = [f"word{i}" for i in range(3000)] + ["sqlite", "index", "query", "thread", "lock"] + ["python"] * 40
START = datetime(2024, 1, 1)


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _insert(connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if rows:
        connection.execute(db.metadata.tables[table].insert(),
                           [dict(zip(columns, row, strict=True)) for row in rows])


def fill(connection, rng: random.Random, first_q: int, last_q: int, next_answer: int,
         big_question_answers: int = BIG_QUESTION_ANSWERS) -> int:
    """Questions first_q..last_q (ids), their tags and answers; returns the next answer id.
    A tenth are unanswered, the rest have 3.0 answers on average; question 1 has
    big_question_answers, each by a different member."""
    questions, links, answers = [], [], []
    for qid in range(first_q, last_q + 1):
        n = 0 if qid % 10 == 0 else rng.choice((2, 3, 3, 4, 4, 4))
        authors = [rng.randint(1, MEMBERS) for _ in range(n)]
        if qid == 1:
            n = big_question_answers
            authors = rng.sample(range(2, MEMBERS + 1), n)
        created = START + timedelta(minutes=qid)
        body = f"I am stuck with {sentence(rng, 30)}.\n\n    code sample {qid}\n"
        questions.append((qid, rng.randint(1, MEMBERS), f"How to {sentence(rng, 6)}?", n, body, render(body),
                          created, ""))
        for tag in rng.sample(range(1, TAGS + 1), rng.randint(1, 5)):
            links.append((qid, tag))
        for k, author in enumerate(authors):
            abody = (f"Try *{sentence(rng, 3)}*: {sentence(rng, 22)}.\n\n"
                     f"- `{rng.choice(WORDS)}`\n- {sentence(rng, 4)}\n")
            answers.append((next_answer, qid, author, k == 0 and n > 1, rng.randint(-2, 20),
                            abody, render(abody), created + timedelta(seconds=k + 1), ""))
            next_answer += 1
    _insert(connection, "questions", ("id", "author_id", "title", "answer_count", "body_source", "body_html",
                                      "created_at", "hidden_reason"), questions)
    _insert(connection, "question_tags", ("question_id", "tag_id"), links)
    _insert(connection, "answers", ("id", "question_id", "author_id", "is_accepted", "score", "body_source",
                                    "body_html", "created_at", "hidden_reason"), answers)
    connection.commit()
    return next_answer


def fill_members_and_tags(connection) -> None:
    _insert(connection, "users", ("id", "email", "display_name", "password_hash", "activated_at", "is_admin",
                                  "created_at", "follow_on_reply", "notify_mode", "newsletter"),
            [(i, f"m{i}@example.org", f"Member {i}", "x", START, False, START, True, "instant", True)
             for i in range(1, MEMBERS + 1)])
    _insert(connection, "tags", ("id", "name"), [(i, f"tag-{i}") for i in range(1, TAGS + 1)])
    connection.commit()


def fill_notices(connection, rng: random.Random, user_id: int, count: int, unread: int,
                 questions: int) -> None:
    """`count` notifications for one member (an outbox event each, done), about answers on
    questions 1..`questions`; the newest `unread` unread, the member's counter in step."""
    events, notices = [], []
    for i in range(1, count + 1):
        at = START + timedelta(seconds=30 * i)
        thread = rng.randint(1, questions)
        events.append((i, "answer", "question", thread, 1, user_id, at, at, 0, "", at))
        notices.append((i, user_id, i, "answer", "question", thread, 1, at,
                        None if i > count - unread else at))
    _insert(connection, "outbox_events", ("id", "kind", "thread_kind", "thread_id", "post_id", "actor_id",
                                          "created_at", "not_before", "done_through", "lease_owner",
                                          "done_at"), events)
    _insert(connection, "notifications", ("id", "user_id", "event_id", "kind", "thread_kind", "thread_id",
                                          "post_id", "created_at", "read_at"), notices)
    connection.execute(db.text("UPDATE users SET unread_notices = :n WHERE id = :id"),
                       {"n": unread, "id": user_id})
    connection.commit()


def vote_on(connection, rng: random.Random, question_id: int) -> int:
    """Votes on the question's answers by members who did not write them, summing to each
    answer's score (as the site keeps it); returns how many votes were cast."""
    answers = connection.execute(db.text("SELECT id, author_id, score FROM answers WHERE question_id = :q"),
                                 {"q": question_id}).all()
    votes = []
    for answer_id, author_id, score in answers:
        voters = rng.sample([m for m in range(1, 200) if m != author_id], abs(score))
        votes += [(answer_id, voter, 1 if score > 0 else -1, START) for voter in voters]
    _insert(connection, "votes", ("answer_id", "user_id", "value", "created_at"), votes)
    connection.commit()
    return len(votes)


def analyze(connection) -> None:
    connection.exec_driver_sql("ANALYZE")
    connection.commit()


def busiest_member(connection) -> int:
    return connection.exec_driver_sql(
        "SELECT author_id FROM questions GROUP BY author_id ORDER BY COUNT(*) DESC LIMIT 1").scalar_one()
