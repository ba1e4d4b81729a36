"""`flask --app webapp init-db | create-admin`: the site's own commands."""

from __future__ import annotations

import click
from flask import Flask
from flask_migrate import upgrade

from webapp import session_store
from webapp.extensions import db
from webapp.models import User, utcnow


def register(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db() -> None:
        """Create or upgrade the database schema to the latest migration."""
        upgrade()
        click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")

    @app.cli.command("create-admin")
    @click.option("--email", prompt=True)
    @click.option("--name", "display_name", prompt="Display name", default="Admin")
    @click.password_option()
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
