"""A savepoint is part of the request's transaction, on SQLite too: Python's sqlite3 begins a
transaction only before a write, and a SAVEPOINT outside one commits on its own when released.
A follow (or a new tag, or the feedback cursor) made in a request that then fails must go
with the rest of it."""

from __future__ import annotations

from tests.webapp.qa_helpers import ask, member
from webapp.accounts.models import User
from webapp.posts import subscriptions
from webapp.posts.models import Subscription
from webapp.site.extensions import db


def test_a_follow_rolled_back_with_its_request_is_not_kept(app, config):
    question_id = ask(member(app, config, "Ann"))
    member(app, config, "Bob")
    with app.app_context():
        bob = db.session.execute(db.select(User).filter_by(display_name="Bob")).scalar_one()
        subscriptions.follow(bob, "question", question_id)   # the request's first write
        db.session.rollback()                                # ... and the request fails after it
        kept = db.session.execute(db.select(Subscription).filter_by(user_id=bob.id)).scalars().all()
    assert kept == []
