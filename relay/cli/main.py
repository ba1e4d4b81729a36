"""The `relay` command: thin click wrappers that parse, call the modules, and print.

Exit codes: 0 ok, 1 a problem found (a file refused, a check failed),
2 usage or config error. Every command takes --config (else
$PICKUP_RELAY_CONFIG, else the config of a `make run` running in this folder,
said on stderr (settings.local_run), else ./config.toml, else the embedded defaults).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import stat
import sys
from pathlib import Path

import click

from relay.cli.common import (
    CONFIG_HELP,
    EXIT_PROBLEM,
    UsageFailure,
    act_as_queue_owner,
    config_of,
    config_option,
    serve_until,
    stop_on_signals,
)
from relay.queue.files import file_kind
from spooler.drop import DropRefused, drop_message, queued_line, refusal_reason, refused_line
from spooler.envelope import MalformedMessage, parse_pickup
from spooler.names import PRIORITIES, TRANSACTIONAL
from spooler.pickup import PickupError, PickupWriter


class _Commands(click.Group):
    """The queue and inbound commands (relay.cli.queue, relay.cli.inbound) are loaded when one
    of them, or the list of all, is asked for: `relay run`, and each relay process the
    supervisor starts again, goes without the admin listing, status and channel modules."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or (_load_more() and super().get_command(ctx, name))

    def list_commands(self, ctx: click.Context) -> list[str]:
        _load_more()
        return super().list_commands(ctx)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help=CONFIG_HELP)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Pickup Relay: forward the .eml files a web site writes to its pickup folder
    to the smart host, with retries, a badmail folder and admin commands."""
    ctx.obj = {"config_path": config_path}


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--priority", type=click.Choice(PRIORITIES), default=TRANSACTIONAL,
              show_default=True, help="bulk mail waits behind transactional mail")
@click.pass_context
def drop(ctx: click.Context, files: tuple[str, ...], priority: str) -> None:
    """Validate FILES (.eml messages; - reads stdin) and place each one in pickup atomically.

    A file's envelope is its own X-Sender/X-Receiver lines at the top, else its
    Sender/From and To/Cc/Bcc headers (the pickup contract): a file that should not
    choose its envelope goes through `relay sendmail -f SENDER RCPT...` instead.
    A file is refused, and pickup left untouched, if it is not a regular file (a
    fifo, a folder), is empty, holds a NUL byte, is not a message, looks truncated (a
    multipart without its closing boundary, a base64 body of impossible length), is over
    [relay] max_message_size, or has no sender or recipient. Exit status 1 if any file
    was refused.
    """
    config = config_of(ctx)
    writer = PickupWriter(config.pickup.dir, max_size=config.relay.max_message_size)
    refused = 0
    for name in files:
        try:
            dropped = drop_message(_read_input(name, config.relay.max_message_size), writer, priority)
        except (OSError, PickupError, DropRefused) as e:
            refused += 1
            click.echo(refused_line(name, refusal_reason(e)), err=True)
            continue
        click.echo(queued_line(name, dropped))
    if refused:
        sys.exit(EXIT_PROBLEM)


def _read_input(name: str, max_size: int) -> bytes:
    """A file's bytes (- : stdin), read no further than one byte past max_size."""
    if name == "-":
        data = sys.stdin.buffer.read(max_size + 1)
    else:
        # O_NONBLOCK: opening a fifo must not wait for a writer; only regular files are read.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise PickupError(f"not a regular file ({file_kind(mode)}): only message files "
                              "can be dropped")
        with open(fd, "rb") as f:
            data = f.read(max_size + 1)
    return data   # at most one byte over: enough for the writer to refuse it


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the relay daemon in the foreground.

    Watches [pickup] dir, claims each complete *.eml into [relay] queue_dir and
    forwards it to [relay.smarthost] (or to the first usable of [[relay.smarthosts]]),
    retrying per retry_schedule and moving
    what cannot be sent to badmail/ with a reason. SIGTERM or Ctrl-C: stop
    taking work, finish in-flight sends, exit 0.
    """
    from relay.daemon.logsetup import configure_logging
    from relay.daemon.supervisor import child_slot, process_count, start_children
    from relay.queue.folders import Queue, QueueSetupError

    config = config_of(ctx)
    act_as_queue_owner(config.relay.queue_dir)
    os.umask(0o077)  # everything the relay writes (queue files, history, pid files) is its own
    configure_logging(config.relay.log_level, config.relay.log_file)
    _refuse_unusable_password(config)
    signer = _dkim_signer(config)   # before forking: a bad key stops the supervisor too
    slot = child_slot()
    count = process_count(config)
    if slot is None and count > 1:
        try:
            Queue.from_config(config).create()  # refuse before forking
        except QueueSetupError as e:
            raise UsageFailure(str(e)) from None
        slot = start_children(config, ctx.find_object(dict)["config_path"], count)   # here in a child
    if slot is not None:  # one of the supervisor's children: its share of the connections
        index, total = slot
        share = config.relay.connections // total + (index < config.relay.connections % total)
        config = dataclasses.replace(config, relay=dataclasses.replace(
            config.relay, connections=max(1, share), metrics_listen=""))
    from relay.daemon.relay import Relay  # not in a supervisor: it only watches its children
    from relay.queue.pids import PidFile

    relay = Relay(config, signer=signer, share=slot)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: relay.stop())
    signal.signal(signal.SIGUSR1, lambda *_: relay.flush())
    signal.signal(signal.SIGHUP, lambda *_: relay.reopen_logs())
    pidfile = PidFile(config.relay.queue_dir, supervisor=os.getppid() if slot is not None else None)
    try:
        relay.queue.create()
        try:
            pidfile.acquire()
        except OSError as e:  # a full disk must not keep the relay from delivering (freeing space)
            logging.getLogger("relay").error(
                "cannot write the pid file %s (%s): running without it; `relay status` will not "
                "list this process and `relay retry` cannot wake it", pidfile.path, e.strerror or e)
        relay.run()
    except QueueSetupError as e:
        raise UsageFailure(str(e)) from None
    finally:
        pidfile.release()


def _refuse_unusable_password(config) -> None:
    """A password that cannot be had or may not be sent (a password file others can read,
    AUTH without TLS not allowed) stops `relay run` before anything starts."""
    from relay.smtp.credentials import CredentialsError, smarthost_password

    for host in config.relay.hosts:
        if host.username:
            try:
                smarthost_password(host)
            except CredentialsError as e:
                raise UsageFailure(f"{e} (smart host {host.label})" if len(config.relay.hosts) > 1
                                   else str(e)) from None


def _dkim_signer(config):
    """The [relay.dkim] keys, read once; one that cannot be read or used (others may read it,
    not a key) stops `relay run` before anything starts: mail is never sent unsigned."""
    from relay.delivery.signing import DkimSetupError, load_signer

    try:
        return load_signer(config.relay.dkim)
    except DkimSetupError as e:
        raise UsageFailure(str(e)) from None


@main.command()
@click.option("--host", default=None, help="listen address (default: [sink] host)")
@click.option("--port", type=int, default=None, help="listen port (default: [sink] port)")
@click.option("--maildir", type=click.Path(file_okay=False), default=None,
              help="where to store messages (default: [sink] maildir)")
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None,
              help="PEM certificate (chain): offer and require STARTTLS")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None,
              help="PEM private key of --tls-cert")
@click.option("--implicit-tls", is_flag=True, help="TLS from the first byte (port 465 style)")
@click.pass_context
def sink(ctx: click.Context, host: str | None, port: int | None, maildir: str | None,
         tls_cert: str | None, tls_key: str | None, implicit_tls: bool) -> None:
    """Run a local catch-all SMTP server that stores every message in a Maildir.

    The default smart host for a local run: point [relay.smarthost] at it and
    read what the site sent in MAILDIR/new/. With --tls-cert and --tls-key it
    requires STARTTLS (or, with --implicit-tls, speaks TLS at once), for trying
    [relay.smarthost] tls. Stops on Ctrl-C or SIGTERM.
    """
    import ssl

    from relay.sink.server import Sink, server_context

    config = config_of(ctx)
    host = host or config.sink.host
    port = port or config.sink.port
    folder = Path(maildir) if maildir else config.sink.maildir
    if bool(tls_cert) != bool(tls_key) or (implicit_tls and not tls_cert):
        raise click.UsageError("--tls-cert and --tls-key go together; --implicit-tls needs them")
    try:
        context = server_context(tls_cert, tls_key) if tls_cert else None
    except (OSError, ssl.SSLError) as e:
        raise UsageFailure(f"cannot use --tls-cert {tls_cert} / --tls-key {tls_key}: {e}") from None
    stop = stop_on_signals()
    server = Sink(folder, host=host, port=port, on_message=lambda line: click.echo(f"sink: {line}"),
                  tls_context=context, implicit_tls=implicit_tls)
    try:
        server.start()
    except (OSError, RuntimeError) as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e}") from None
    mode = "" if context is None else ", implicit TLS" if implicit_tls else ", STARTTLS required"
    click.echo(f"sink: listening on {host}:{port}{mode}, storing in {folder}/new")
    serve_until(stop, server)
    click.echo("sink: stopped")


@main.command()
@click.option("--host", default=None, help="listen address (default: [sink] host)")
@click.option("--port", type=int, default=None, help="listen port (default: [sink] web_port)")
@click.option("--maildir", type=click.Path(file_okay=False), default=None,
              help="the sink's Maildir to show (default: [sink] maildir)")
@click.pass_context
def inbox(ctx: click.Context, host: str | None, port: int | None, maildir: str | None) -> None:
    """Serve the sink's Maildir as a web inbox: http://127.0.0.1:8025 by default.

    Lists what the sink received, newest first, page by page, with search
    (from: to: subject: is:unread has:attachment, words, "phrases"), new mail
    shown as it arrives, read/unread and delete; shows a message's text, HTML
    (sandboxed, no scripts), headers, source, attachments, envelope and links
    (checked on demand). A JSON API under /api/v1/ (docs/inbox.md). The index
    beside the Maildir (inbox.sqlite) is rebuilt from it when missing, so the
    Maildir stays the truth. /upload places .eml files in [pickup] dir as
    `relay drop` does; a message's release sends it on to [sink.release] host
    (off without one). Answers only at a loopback address. Stops on Ctrl-C or
    SIGTERM.
    """
    import sqlite3

    from relay.sink.inbox import InboxServer
    from relay.sink.maildir import Maildir

    config = config_of(ctx)
    host = host or config.sink.host
    port = config.sink.web_port if port is None else port
    folder = Path(maildir) if maildir else config.sink.maildir
    if not port:
        raise UsageFailure("the web inbox is off ([sink] web_port = 0): give --port, "
                           "or set [sink] web_port")
    stop = stop_on_signals()
    try:
        Maildir(folder)   # made if missing, as the sink would: its own error, not the port's
    except OSError as e:
        raise click.ClickException(f"cannot use the Maildir {folder} ([sink] maildir): "
                                   f"{e.strerror or e}") from None
    try:
        server = InboxServer(folder, host=host, port=port, config=config)
    except sqlite3.Error as e:
        raise click.ClickException(f"cannot keep the inbox's index in {folder}: {e}") from None
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    try:
        server.start()
    except OSError as e:   # the index beside the Maildir, or the watch on its new/
        server.stop()
        raise click.ClickException(f"cannot index or watch {folder}: {e.strerror or e}") from None
    click.echo(f"inbox: {server.url} shows {folder}/new")
    serve_until(stop, server)
    click.echo("inbox: stopped")


@main.command()
@click.option("--no-smarthost", is_flag=True,
              help="leave out the connection to the smart host (systemd's ExecStartPre uses this)")
@click.pass_context
def check(ctx: click.Context, no_smarthost: bool) -> None:
    """Check config, folders (exist, writable, one filesystem) and the smart host.

    Prints each check as ok, WARNING or PROBLEM with the fix; exit status 1 on
    any problem (warnings, such as a certificate expiring within 14 days, do not fail).
    """
    from relay.admin.check import run_checks

    results = run_checks(config_of(ctx), smarthost=not no_smarthost)
    for r in results:
        label = "PROBLEM" if not r.ok else "WARNING" if r.warn else "ok     "
        click.echo(f"{label}  {r.name}: {r.detail}")
        if (not r.ok or r.warn) and r.fix:
            click.echo(f"         fix: {r.fix}")
    if not all(r.ok for r in results):
        sys.exit(EXIT_PROBLEM)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("-t", "extract", is_flag=True, help="also send to the To, Cc and Bcc addresses")
@click.option("-f", "sender", default=None, help="envelope sender (default: the From header)")
@click.option("-i", "ignore_dots", is_flag=True, help='a line with a single "." does not end input')
@click.option("-o", "sendmail_options", multiple=True, help="sendmail -o options; -oi is -i")
@click.option("-F", "full_name", default=None, hidden=True)
@click.argument("recipients", nargs=-1)
@click.pass_context
def sendmail(ctx: click.Context, extract: bool, sender: str | None, ignore_dots: bool,
             sendmail_options: tuple[str, ...], full_name: str | None,
             recipients: tuple[str, ...]) -> None:
    """Read a message on stdin and put it in pickup, like /usr/sbin/sendmail.

    For cron, PHP's mail() and anything else that pipes into sendmail.
    Link it in place of sendmail (docs/production.md): `relay sendmail -t -i < message.eml`.
    The envelope is the command line's (and -t's) alone: X-Sender and X-Receiver
    lines at the top of the message are removed, with a warning.
    """
    from spooler.sendmail import envelope, pickup_file, read_message

    config = config_of(ctx)
    ignore_dots = ignore_dots or "i" in sendmail_options
    stray = [r for r in recipients if r.startswith("-")]
    if stray:
        click.echo(f"sendmail: ignoring options {' '.join(stray)}", err=True)
    data = read_message(sys.stdin.buffer.read(config.relay.max_message_size + 1), ignore_dots)
    try:
        env_sender, env_recipients = envelope(
            data, [r for r in recipients if not r.startswith("-")], extract, sender)
        writer = PickupWriter(config.pickup.dir, max_size=config.relay.max_message_size)
        queued, removed = pickup_file(data, env_sender, env_recipients)
        parse_pickup(queued)  # refuse here what the relay could never send
        writer.write_bytes(queued)
    except (MalformedMessage, PickupError, ValueError) as e:
        click.echo(f"sendmail: message not queued: {e}", err=True)
        sys.exit(EXIT_PROBLEM)
    if removed:
        click.echo(f"sendmail: removed {removed} X-Sender/X-Receiver line{'s' if removed != 1 else ''} "
                   "from the top of the message: the envelope is the command line's", err=True)


def _with_config_option(commands) -> None:
    for command in commands:  # `relay status --config F` as well as `relay --config F status`
        command.params.append(config_option())


def _load_more() -> bool:
    """Add the queue and inbound commands (once); True."""
    if "status" not in main.commands:
        from relay.cli.inbound import COMMANDS as INBOUND
        from relay.cli.queue import COMMANDS as QUEUE

        _with_config_option((*QUEUE, *INBOUND))
        for command in (*QUEUE, *INBOUND):
            main.add_command(command)
    return True


_with_config_option(main.commands.values())
