"""`flask --app webapp init-db | create-admin | outbox-worker | outbox-status | outbox-log |
send-digests | broadcast | read-feedback | check`: the site's own commands."""

from __future__ import annotations

import json
import logging
import signal
import sys

import click
from flask import Flask
from flask_migrate import upgrade

from spooler.pickup import PickupError
from webapp.accounts import session_store
from webapp.accounts.models import User
from webapp.mail import newsletter, outbox
from webapp.mail.models import Broadcast
from webapp.site.config import site_config
from webapp.site.database import utcnow
from webapp.site.extensions import db


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
        from webapp.mail.fanout import FanoutWorker

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

    @app.cli.command("broadcast")
    @click.option("--subject", required=True, help="The newsletter's subject line.")
    @click.option("--body-file", type=click.File("r", encoding="utf-8"), required=True,
                  help="Its text, in Markdown ('-' reads stdin).")
    @click.option("--admin", "admin_email", help="The admin it is sent by (default: the first admin).")
    @click.option("--wait/--no-wait", default=True, show_default=True,
                  help="Write the files here with a progress bar, or leave that to the outbox workers.")
    def broadcast_command(subject: str, body_file, admin_email: str | None, wait: bool) -> None:
        """Send a newsletter to every activated member with the newsletter on, through the same
        durable fan-out as notifications (exactly once per member, resumable)."""
        from webapp.mail.fanout import FanoutWorker

        query = db.select(User).where(User.is_admin).order_by(User.id)
        if admin_email:
            query = query.where(User.email == User.normalize_email(admin_email))
        admin = db.session.execute(query.limit(1)).scalar_one_or_none()
        if admin is None:
            raise click.ClickException("no such admin: make one with `flask --app webapp create-admin`")
        body = body_file.read()
        if len(body.strip()) < 10:
            raise click.ClickException("the body is empty or shorter than 10 characters")
        sent = newsletter.start(admin, subject.strip(), body)
        db.session.commit()
        click.echo(f"newsletter {sent.id} to {sent.audience:,} members")
        if not wait:
            return
        broadcast_id = sent.id
        worker = FanoutWorker()
        try:
            with click.progressbar(length=sent.audience, label="written", show_pos=True,
                                   show_eta=True) as bar:
                def done() -> bool:
                    figures = newsletter.progress(db.session.get(Broadcast, broadcast_id))
                    bar.update(figures["written"] - bar.pos)
                    db.session.commit()
                    return figures["state"] != "sending"
                worker.run(done)
        finally:
            worker.close()
        figures = newsletter.progress(db.session.get(Broadcast, broadcast_id))
        click.echo(f"newsletter {broadcast_id}: {figures['state']}, {figures['written']:,} written, "
                   f"{figures['left_out']:,} left out, {figures['rate_per_s']:,} a second")

    @app.cli.command("read-feedback")
    def read_feedback() -> None:
        """Read the relay's feedback file ([relay] feedback_file) now and mark bouncing addresses
        (the outbox worker does this every few seconds)."""
        from webapp.mail import bounces

        path = site_config().relay.feedback_file
        if not path:
            raise click.ClickException("[relay] feedback_file is not set: the relay writes no feedback")
        lines, marked = bounces.read_feedback(path, site_config().webapp.bounce_soft_limit)
        click.echo(f"{lines} line(s) read, {marked} address(es) marked bouncing")

    @app.cli.command("check")
    def check() -> None:
        """Is this site set up to work? Database, schema, pickup folder, rate-limit store,
        base_url: ok, WARNING or PROBLEM with the fix; exit 1 on any problem. Run it before
        every start (the unit's ExecStartPre does)."""
        from webapp.site.check import run_checks

        results = run_checks(app)
        for r in results:
            label = "PROBLEM" if not r.ok else "WARNING" if r.warn else "ok     "
            click.echo(f"{label}  {r.name}: {r.detail}")
            if r.fix and (not r.ok or r.warn):
                click.echo(f"         fix: {r.fix}")
        sys.exit(0 if all(r.ok for r in results) else 1)

    @app.cli.command("send-digests")
    @click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                  help="The digests' day, YYYY-MM-DD (default: today, UTC).")
    @click.option("--batch", default=200, show_default=True, help="Members per sync and publish round.")
    def send_digests(day, batch: int) -> None:
        """Place today's daily digest of every member who has new items, once per member per
        day: running it again (or after a kill) places only what is still missing."""
        from webapp.mail.digest import send_digests as run_digests

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        run = run_digests(day.date() if day else None, batch=batch)
        click.echo(f"send-digests {run.day}: {run.placed} digest(s) placed listing {run.items} "
                   f"item(s); {run.lost} done by another run; {run.dropped} item(s) dropped", err=True)
