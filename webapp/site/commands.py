"""`flask --app webapp init-db | check`: make the schema, and say whether this site can work.

init-db applies the Alembic migrations (webapp/migrations) to [webapp] database_url. check
prints ok, WARNING or PROBLEM with the fix for each of webapp.site.check's checks and exits
1 on any problem (contrib/pickup-relay-site.service runs it before every start).
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from flask_migrate import upgrade

from webapp.site.check import run_checks
from webapp.site.extensions import db


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the database schema to the latest migration."""
    upgrade()
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("check")
@with_appcontext
def check_site() -> None:
    """Is this site set up to work? Database, schema, pickup folder, rate-limit store,
    base_url, gunicorn's bind: ok, WARNING or PROBLEM with the fix; exit 1 on any problem.
    Run it before every start (the unit's ExecStartPre does)."""
    results = run_checks()
    for r in results:
        label = "PROBLEM" if not r.ok else "WARNING" if r.warn else "ok     "
        click.echo(f"{label}  {r.name}: {r.detail}")
        if r.fix and (not r.ok or r.warn):
            click.echo(f"         fix: {r.fix}")
    sys.exit(0 if all(r.ok for r in results) else 1)


COMMANDS = (init_db, check_site)
