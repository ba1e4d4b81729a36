"""The mail's commands: `flask --app webapp outbox-worker | outbox-status | outbox-log |
send-digests | read-feedback`, the workers and what they show people.

Thin: each command calls what the site itself runs (webapp.mail.fanout, outbox, digest,
bounces) and prints the result. outbox-worker and send-digests log to stderr; a missing or
unwritable pickup folder is a message, not a traceback. Exit 1 from outbox-status when an
event has waited over five minutes; read-feedback refuses when [relay] feedback_file is
unset.
"""

from __future__ import annotations

import json
import logging
import signal
import sys

import click
from flask.cli import with_appcontext

from spooler.pickup import PickupError
from webapp.accounts.models import User
from webapp.mail import bounces, outbox
from webapp.mail.digest import send_digests
from webapp.mail.fanout import FanoutWorker
from webapp.mail.kinds import SENT
from webapp.site.config import site_config


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


@click.command("outbox-worker")
@click.option("--once", is_flag=True, help="Stop when no event is due instead of waiting.")
@click.option("--batch", default=500, show_default=True, help="Recipients per commit.")
@click.option("--lease", default=30.0, show_default=True,
              help="Seconds a claimed event stays ours without progress.")
@with_appcontext
def run_outbox_worker(once: bool, batch: int, lease: float) -> None:
    """Turn notification events into pickup files, one per recipient, exactly once.
    SIGTERM or Ctrl-C: finish the batch in hand, then exit 0."""
    _log_to_stderr()
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


@click.command("outbox-status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@with_appcontext
def print_outbox_status(as_json: bool) -> None:
    """Events waiting, in progress and done in the last hour; the oldest waiting one's age;
    mails waiting for members away. Exit 1 when an event has waited over five minutes, or a
    mail five minutes past mail_when_away."""
    figures = outbox.figures()
    if as_json:
        click.echo(json.dumps(figures))
    else:
        for name, value in figures.items():
            click.echo(f"{name.replace('_', ' '):<18} {value}")
    sys.exit(1 if outbox.late(figures) else 0)


@click.command("outbox-log")
@click.option("--email", required=True, help="The member's address.")
@click.option("--limit", default=20, show_default=True)
@with_appcontext
def print_outbox_log(email: str, limit: int) -> None:
    """Why a member did or did not get a notification: the latest events and the outcome
    for them ("sent", or the reason they were left out)."""
    user = User.by_email(email)
    if user is None:
        raise click.ClickException(f"no member with the address {email}")
    found = outbox.outcomes_for(user.id, limit)
    if not found:
        click.echo(f"{user.email}: no notification events have reached this member yet")
    for o in found:
        outcome = o.status if o.status == SENT else f"left out: {o.words} ({o.status})"
        click.echo(f"{o.at:%Y-%m-%d %H:%M:%S}  event {o.event_id} "
                   f"({o.kind} on {o.thread_kind} {o.thread_id}): {outcome}")


@click.command("send-digests")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The digests' day, YYYY-MM-DD (default: today, UTC).")
@click.option("--batch", default=200, show_default=True, help="Members per sync and publish round.")
@with_appcontext
def place_todays_digests(day, batch: int) -> None:
    """Place today's daily digest of every member who has new items, once per member per
    day: running it again (or after a kill) places only what is still missing."""
    _log_to_stderr()
    run = send_digests(day.date() if day else None, batch=batch)
    click.echo(f"send-digests {run.day}: {run.placed} digest(s) placed listing {run.items} "
               f"item(s); {run.lost} done by another run; {run.dropped} item(s) dropped", err=True)


@click.command("read-feedback")
@with_appcontext
def mark_bounces() -> None:
    """Read the relay's feedback file ([relay] feedback_file) now and mark bouncing addresses
    (the outbox worker does this every few seconds)."""
    config = site_config()
    if not config.relay.feedback_file:
        raise click.ClickException("[relay] feedback_file is not set: the relay writes no feedback")
    _log_to_stderr()   # a skipped line is said there, with where it is and why
    taken = bounces.read_feedback(config.relay.feedback_file, config.webapp.bounce_soft_limit)
    click.echo(f"{taken.lines} line(s) read, {taken.marked} address(es) marked bouncing, "
               f"{taken.skipped} line(s) skipped")


COMMANDS = (run_outbox_worker, print_outbox_status, print_outbox_log, place_todays_digests, mark_bounces)
