"""create_app(): where the SQLite file goes and who may read it."""

from __future__ import annotations

import stat

from flask_migrate import upgrade

from tests.configs import replaced
from webapp import create_app
from webapp.site.extensions import db


def test_the_sqlite_file_is_created_readable_by_its_owner_only(config, tmp_path):
    app = create_app(config)
    database = tmp_path / "var/site.db"
    with app.app_context():
        upgrade()
        db.engine.dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert database.stat().st_size > 0  # a real database, made by the migrations


def test_an_absolute_sqlite_path_is_created_readable_by_its_owner_only(config, tmp_path):
    database = tmp_path / "elsewhere/abs.db"
    absolute = replaced(config, webapp={"database_url": f"sqlite:///{database}"})
    app = create_app(absolute)
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"


def test_a_database_left_at_the_notifications_revision_upgrades_to_one_that_has_handles(
        config, tmp_path):
    """The notifications migration landed before the mentions one: a site upgraded then must
    get members' @handles (and every later column) from `db upgrade`, not skip them."""
    app = create_app(config)
    with app.app_context():
        upgrade(revision="dbcee2668788")   # notifications, as it first landed: no handles yet
        columns = [row[1] for row in db.session.execute(db.text("PRAGMA table_info(users)"))]
        assert "unread_notices" in columns and "handle" not in columns
        db.session.execute(db.text(
            "INSERT INTO users (email, display_name, password_hash, is_admin, created_at) "
            "VALUES ('ada@example.org', 'Ada Lovelace', 'x', 0, CURRENT_TIMESTAMP)"))
        db.session.commit()
        upgrade()
        handle = db.session.execute(db.text("SELECT handle FROM users")).scalar_one()
        db.engine.dispose()
    assert handle == "ada_lovelace"
