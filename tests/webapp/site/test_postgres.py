"""The site on PostgreSQL, by changing only [webapp] database_url: migrations and the account flow.

Runs on the throwaway PostgreSQL server of tests/webapp/conftest.py (`postgres_url`).
Skipped with a reason when the server binaries are not installed (`make test` installs them
as root).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.configs import SITE, build_config, config_file
from tests.webapp.conftest import (
    activate,
    choose_password,
    link_in,
    needs_postgres,
    pickup_messages,
    post_form,
)

pytestmark = needs_postgres
pytest.importorskip("psycopg")


@pytest.fixture
def pg_app(tmp_path, postgres_url):
    from flask_migrate import downgrade, upgrade

    from webapp import create_app
    from webapp.site.extensions import db

    config = build_config(tmp_path, SITE, webapp={"database_url": postgres_url})
    app = create_app(config, {"TESTING": True})
    with app.app_context():
        upgrade()
    yield app, config
    with app.app_context():
        downgrade(revision="base")  # the migrations go both ways
        db.engine.dispose()


def test_accounts_work_on_postgresql(pg_app):
    app, config = pg_app
    client = app.test_client()
    password = "a long password"
    post_form(client, "/account/register", display_name="Pat", email="pat@example.org",
              password=password, confirm=password)
    activate(client, link_in(pickup_messages(config)[-1], "activate"))
    assert post_form(client, "/account/login", email="PAT@example.org", password=password).status_code == 302
    assert "Welcome back, Pat" in client.get("/").get_data(as_text=True)
    post_form(client, "/account/reset", email="pat@example.org")
    link = link_in(pickup_messages(config)[-1], "reset")
    assert choose_password(client, link, "another password").status_code == 302
    assert client.get(link).status_code == 400  # used once


def test_questions_answers_and_votes_work_on_postgresql(pg_app):
    from tests.webapp.qa_helpers import answer, ask, member, press

    app, config = pg_app
    ann, bob, cat = (member(app, config, n) for n in ("Ann", "Bob", "Cat"))
    question_id = ask(ann, tags="postgres sql")
    answer_id = answer(bob, question_id)
    page = f"/questions/{question_id}"
    assert press(ann, page, f"/answers/{answer_id}/accept").status_code == 302
    assert press(cat, page, f"/answers/{answer_id}/vote", direction="up").status_code == 302
    html = cat.get(page).get_data(as_text=True)
    assert "✓ Accepted answer" in html and '<span class="count" title="score">1</span>' in html


def test_lists_and_full_text_search_work_on_postgresql(pg_app):
    from tests.webapp.qa_helpers import ask, member

    app, config = pg_app
    ann = member(app, config, "Ann")
    ask(ann, title="Reading large files in chunks", body="Memory runs out when I read it all.")
    ask(ann, title="Writing files atomically", body="Rename after fsync?", tags="io")
    visitor = app.test_client()
    found = visitor.get("/search?q=read+files").get_data(as_text=True)
    assert "Reading large files in chunks" in found and "Writing files" not in found
    assert visitor.get("/search", query_string={"q": "files & | ! ("}).status_code == 200
    assert "Writing files atomically" in visitor.get("/tags/io").get_data(as_text=True)
    assert "Reading large files" in visitor.get("/questions?tab=unanswered").get_data(as_text=True)


def test_articles_comments_and_their_search_work_on_postgresql(pg_app):
    from tests.webapp.qa_helpers import comment, member, write_article

    app, config = pg_app
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    article_id = write_article(ann, title="Vacuuming tables by hand", body="When autovacuum lags behind.")
    comment(bob, article_id, "Also see pg_stat_user_tables.")
    visitor = app.test_client()
    assert "pg_stat_user_tables" in visitor.get(f"/articles/{article_id}").get_data(as_text=True)
    assert "Vacuuming tables" in visitor.get("/search?q=autovacuum&in=articles").get_data(as_text=True)


def test_two_digest_runs_at_once_place_one_digest_per_member_on_postgresql(pg_app, tmp_path):
    from tests.webapp.mail.test_digest import daily_followers
    from tests.webapp.mail.test_outbox import fan_out
    from tests.webapp.qa_helpers import answer, ask, member
    from webapp.mail.models import Digest
    from webapp.site.extensions import db

    app, config = pg_app
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    ids = daily_followers(app, question_id, 200)
    answer(bob, question_id)
    fan_out(app)
    config_path = config_file(tmp_path, SITE, webapp={"database_url": app.config["SQLALCHEMY_DATABASE_URI"]})
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(config_path)}
    command = [str(Path(sys.executable).parent / "flask"), "--app", "webapp", "send-digests",
               "--day", "2026-03-14", "--batch", "25"]
    runs = [subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    placed = sorted(p.name for p in config.pickup.dir.glob("d*.bulk.eml"))
    assert placed == sorted(f"d{i}-20260314.bulk.eml" for i in ids)
    assert [p.name for p in config.pickup.dir.iterdir() if p.name.startswith(".")] == []
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Digest)).scalar_one() == 200


def test_search_finds_answers_articles_and_word_starts_on_postgresql(pg_app):
    from tests.webapp.posts.test_search import finds_answers_articles_and_word_starts

    finds_answers_articles_and_word_starts(*pg_app)
