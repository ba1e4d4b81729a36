"""The migrations go up and down on SQLite with members and sessions in the database."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.webapp.accounts.test_auth import activated_member, login
from webapp.site.extensions import db

USERS = "7bedc2d92142"   # 0001: users
SESSIONS = "3f6c0a9d2b71"  # 0002: login sessions
ARTICLES = "2d9b7f3c6e15"  # 0005: articles and comments


def columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(db.engine).get_columns(table)}


def test_login_sessions_migrate_down_and_up_again_keeping_the_members(app, client, config):
    activated_member(client, config)
    activated_member(client, config, email="bob@example.org")
    login(client)
    with app.app_context():
        assert "session_token" not in columns("users") and "key_hash" in columns("login_sessions")
        downgrade(revision=USERS)
        tables = sa.inspect(db.engine).get_table_names()
        assert "login_sessions" not in tables and "session_token" in columns("users")
        tokens = db.session.execute(sa.text("SELECT session_token FROM users")).scalars().all()
        assert len(tokens) == 2 and len(set(tokens)) == 2 and all(len(t) >= 32 for t in tokens)
        upgrade(revision=SESSIONS)
        emails = db.session.execute(sa.text("SELECT email FROM users ORDER BY id")).scalars().all()
        assert emails == ["ann@example.org", "bob@example.org"]
        assert "session_token" not in columns("users")
        upgrade()  # the later migrations, for the models of today
        db.session.remove()
    assert login(client).status_code == 302  # the site works on the upgraded schema


def test_settings_and_subscriptions_migrate_down_and_up_keeping_the_members(app, config):
    from tests.webapp.qa_helpers import ask, member

    ann = member(app, config, "Ann")
    ask(ann)
    with app.app_context():
        db.session.remove()
        downgrade(revision=ARTICLES)
        assert "notify_mode" not in columns("users")
        assert "subscriptions" not in sa.inspect(db.engine).get_table_names()
        upgrade()
        row = db.session.execute(sa.text("SELECT notify_mode, newsletter, follow_on_reply FROM users")).one()
        assert tuple(row) == ("away", 1, 1)  # members keep the defaults, instant now "away"
        db.session.remove()
    ask(ann)


def test_the_models_match_the_migrations(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from webapp.site.database import is_modelled

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": is_modelled})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


QUESTIONS = "5a1e0c7d9b42"  # 0003: questions, answers, tags, votes


def test_questions_migrate_down_and_up_again_keeping_the_members(app, config):
    from tests.webapp.qa_helpers import answer, ask, member

    ann = member(app, config, "Ann")
    answer(ann, ask(ann))
    with app.app_context():
        db.session.remove()
        downgrade(revision=SESSIONS)
        tables = set(sa.inspect(db.engine).get_table_names())
        assert not tables & {"questions", "answers", "tags", "question_tags", "votes"}
        upgrade(revision=QUESTIONS)
        assert {"questions", "answers", "tags", "question_tags", "votes"} <= set(
            sa.inspect(db.engine).get_table_names())
        upgrade()
        db.session.remove()
    assert ask(ann) == 1  # the site works on the upgraded schema, starting afresh


INBOUND = "5a1c3e9d7f42"   # 0011: the last revision before handles and mentions


def test_members_of_before_handles_get_one_each_oldest_first(app, config):
    from tests.webapp.accounts.test_auth import activated_member

    activated_member(app.test_client(), config, email="ada@example.org", name="Ada Lovelace")
    activated_member(app.test_client(), config, email="ada2@example.org", name="Ada Lovelace")
    with app.app_context():
        db.session.remove()
        downgrade(revision=INBOUND)
        assert "handle" not in columns("users")
        upgrade()
        handles = db.session.execute(sa.text("SELECT handle FROM users ORDER BY id")).scalars().all()
        db.session.remove()
    assert handles == ["ada_lovelace", "ada_lovelace2"]
