"""`flask --app webapp init-db | create-admin | outbox-worker | outbox-status | outbox-log`:
the site's own commands."""

from __future__ import annotations

import json
import logging
import signal
import sys

import click
from flask import Flask
from flask_migrate import upgrade

from spooler.pickup import PickupError
from webapp import outbox, session_store
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

    @app.cli.command("outbox-worker")
    @click.option("--once", is_flag=True, help="Stop when no event is due instead of waiting.")
    @click.option("--batch", default=500, show_default=True, help="Recipients per commit.")
    @click.option("--lease", default=30.0, show_default=True,
                  help="Seconds a claimed event stays ours without progress.")
    def outbox_worker(once: bool, batch: int, lease: float) -> None:
        """Turn notification events into pickup files, one per recipient, exactly once.
        SIGTERM or Ctrl-C: finish the batch in hand, then exit 0."""
        from webapp.fanout import FanoutWorker

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        stop = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.append(True))
        try:
            worker = FanoutWorker(batch=batch, lease=lease)
        except PickupError as e:  # no pickup folder, or not ours to write: say so, no traceback
            raise click.ClickException(str(e)) from None
        try:
            done = worker.run(lambda: bool(stop), once=once)
        finally:
            worker.close()
        click.echo(f"outbox-worker: {done} event(s) fanned out", err=True)

    @app.cli.command("outbox-status")
    @click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
    def outbox_status(as_json: bool) -> None:
        """Events waiting, in progress and done in the last hour; the oldest waiting one's age.
        Exit 1 when an event has waited over five minutes."""
        figures = outbox.figures()
        if as_json:
            click.echo(json.dumps(figures))
        else:
            for name, value in figures.items():
                click.echo(f"{name.replace('_', ' '):<18} {value}")
        sys.exit(1 if figures["oldest_waiting_s"] > 300 else 0)

    @app.cli.command("outbox-log")
    @click.option("--email", required=True, help="The member's address.")
    @click.option("--limit", default=20, show_default=True)
    def outbox_log(email: str, limit: int) -> None:
        """Why a member did or did not get a notification: the latest events and the outcome
        for them ("sent", or the reason they were left out)."""
        user = User.by_email(email)
        if user is None:
            raise click.ClickException(f"no member with the address {email}")
        found = outbox.outcomes_for(user.id, limit)
        if not found:
            click.echo(f"{user.email}: no notification events have reached this member yet")
        for o in found:
            outcome = o.status if o.status == "sent" else f"left out: {o.words} ({o.status})"
            click.echo(f"{o.at:%Y-%m-%d %H:%M:%S}  event {o.event_id} "
                       f"({o.kind} on {o.thread_kind} {o.thread_id}): {outcome}")
