"""The database's conventions: the time every timestamp column stores, where a SQLite file
goes, and which objects Alembic compares with the models.

utcnow() is naive UTC (what the columns hold on SQLite and PostgreSQL alike). A SQLite
[webapp] database_url resolves against the config file's folder and its file is created
mode 0600 (it holds the password hashes); any other URL is used as given. The models live
with their features (accounts/, posts/, mail/ models.py); the schema is the Alembic
migrations' (webapp/migrations), which `flask --app webapp init-db` applies.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def database_url(url: str, base_dir: Path) -> str:
    """A SQLite file resolves against the config file's folder, like every path, and is
    created mode 0600: it holds the password hashes (SQLite's journals copy its mode)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return url
    path = (base_dir / parsed.database).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def is_modelled(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's include_name: the search index (FTS5 tables, a PostgreSQL expression index)
    is made by migrations 0004, 0005 and 0014 in SQL, not by the models, so comparing skips it."""
    return not (name or "").startswith(("questions_fts", "ix_questions_search", "articles_fts",
                                        "ix_articles_search", "answers_fts", "ix_answers_search"))
