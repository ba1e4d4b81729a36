"""`flask --app webapp create-admin`: an active administrator account, made or promoted.

Writes the users row (and, for an existing member, ends their login sessions: a new
password does that everywhere). Asks for what is not given as an option.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from webapp.accounts import session_store
from webapp.accounts.models import User
from webapp.site.database import utcnow
from webapp.site.extensions import db


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", "display_name", prompt="Display name", default="Admin")
@click.password_option()
@with_appcontext
def create_admin(email: str, display_name: str, password: str) -> None:
    """Create an active administrator account (or make an existing one admin)."""
    user = User.by_email(email)
    if user is None:
        user = User(email=User.normalize_email(email), display_name=display_name)
        db.session.add(user)
    user.set_password(password)
    if user.id is not None:
        session_store.end_all(user)  # a new password ends the old sessions, as a reset does
    user.is_admin = True
    user.activated_at = user.activated_at or utcnow()
    db.session.commit()
    click.echo(f"admin ready: {user.email}")


COMMANDS = (create_admin,)
