"""`flask --app webapp broadcast`: send a newsletter from the command line.

The same newsletter as the admin's page makes (webapp.mail.newsletter.start, whose rules
refuse a short text), sent by the first admin or --admin; with --wait (the default) the
files are written here, with a progress bar, by a fan-out worker of this process, and
another worker may share the work. Exit 1 with the reason for no such admin or a bad text.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from webapp.accounts.models import User
from webapp.mail import newsletter
from webapp.mail.fanout import FanoutWorker
from webapp.mail.models import Newsletter
from webapp.site.extensions import db


@click.command("broadcast")
@click.option("--subject", required=True, help="The newsletter's subject line.")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), required=True,
              help="Its text, in Markdown ('-' reads stdin).")
@click.option("--admin", "admin_email", help="The admin it is sent by (default: the first admin).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Write the files here with a progress bar, or leave that to the outbox workers.")
@with_appcontext
def send_newsletter(subject: str, body_file, admin_email: str | None, wait: bool) -> None:
    """Send a newsletter to every activated member with the newsletter on, through the same
    durable fan-out as notifications (exactly once per member, resumable)."""
    admin = _sender(admin_email)
    try:
        sent = newsletter.start(admin, subject.strip(), body_file.read())
    except newsletter.NewsletterRefused as e:
        raise click.ClickException(str(e)) from None
    db.session.commit()
    click.echo(f"newsletter {sent.id} to {sent.audience:,} members")
    if wait:
        _write_with_progress(sent.id, sent.audience)


def _sender(admin_email: str | None) -> User:
    query = db.select(User).where(User.is_admin).order_by(User.id)
    if admin_email:
        query = query.where(User.email == User.normalize_email(admin_email))
    admin = db.session.execute(query.limit(1)).scalar_one_or_none()
    if admin is None:
        raise click.ClickException("no such admin: make one with `flask --app webapp create-admin`")
    return admin


def _write_with_progress(newsletter_id: int, audience: int) -> None:
    worker = FanoutWorker()
    try:
        with click.progressbar(length=audience, label="written", show_pos=True, show_eta=True) as bar:
            def done() -> bool:
                figures = newsletter.progress(db.session.get(Newsletter, newsletter_id))
                bar.update(figures["written"] - bar.pos)
                db.session.commit()
                return figures["state"] != "sending"
            worker.run(done)
    finally:
        worker.close()
    figures = newsletter.progress(db.session.get(Newsletter, newsletter_id))
    click.echo(f"newsletter {newsletter_id}: {figures['state']}, {figures['written']:,} written, "
               f"{figures['left_out']:,} left out, {figures['rate_per_s']:,} a second")


COMMANDS = (send_newsletter,)
