"""The inbound commands: `flask --app webapp inbound-worker | inbound-status`.

Thin: inbound-worker runs webapp.inbound.worker (logging to stderr; SIGTERM or Ctrl-C
finishes the batch in hand, then exit 0); inbound-status prints the drop folder's counts
(webapp.inbound.drop_folder.folder_counts) and today's figures (webapp.inbound.figures), and
exits 1 when a file has waited over five minutes (no worker is taking them). A drop folder
the site cannot use is a message (exit 1), not a traceback.
"""

from __future__ import annotations

import json
import logging
import signal
import sys

import click
from flask.cli import with_appcontext

from webapp.inbound import figures
from webapp.inbound.drop_folder import DropFolderError, drop_folder, folder_counts
from webapp.inbound.worker import BATCH, InboundWorker
from webapp.site.config import site_config

LATE = 300   # seconds a file may wait before inbound-status exits 1


@click.command("inbound-worker")
@click.option("--once", is_flag=True, help="Stop when no file waits instead of waiting.")
@click.option("--batch", default=BATCH, show_default=True, help="Files per commit.")
@with_appcontext
def run_inbound_worker(once: bool, batch: int) -> None:
    """Handle the bounces, complaints and replies in the drop folder, each file once.
    SIGTERM or Ctrl-C: finish the batch in hand, then exit 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.append(True))
    try:
        worker = InboundWorker(batch=batch)
    except DropFolderError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"inbound-worker: reading {worker.folder.path}", err=True)
    try:
        done = worker.run(lambda: bool(stop), once=once)
    finally:
        worker.close()
    click.echo(f"inbound-worker: {done} file(s) handled", err=True)


@click.command("inbound-status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@with_appcontext
def print_inbound_status(as_json: bool) -> None:
    """The drop folder (waiting, being handled, badmail, the oldest's age) and what came back
    today. Exit 1 when a file has waited over five minutes."""
    folder = drop_folder(site_config())
    counts = folder_counts(folder)
    today = figures.daily(days=1)[0]
    if as_json:
        click.echo(json.dumps({"drop_folder": str(folder), **counts, "today": today.as_dict()}))
    else:
        click.echo(f"{'drop folder':<18} {folder}")
        for name, value in {**counts, **today.as_dict()}.items():
            click.echo(f"{name.replace('_', ' '):<18} {value}")
    sys.exit(1 if counts["oldest_waiting_s"] > LATE else 0)


COMMANDS = (run_inbound_worker, print_inbound_status)
