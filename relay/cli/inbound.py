"""The inbound commands: `relay receive` (the SMTP server) and `relay deliver-inbound` (an MTA's
pipe). Thin: they read the config, call relay.inbound, and say what happened.

`relay receive` exits 0 on SIGTERM or Ctrl-C, 2 on a config or usage error (no [inbound]
domains, an address it cannot listen on, an unusable certificate). `relay deliver-inbound`
answers in sendmail's exit codes instead (relay/inbound/pipe.py): a config it cannot read is 75,
so the MTA keeps the mail until it is mended, and a usage error is 64.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from relay.cli.common import UsageFailure, config_of, serve_until, stop_on_signals


@click.command()
@click.pass_context
def receive(ctx: click.Context) -> None:
    """Take mail for [inbound] domains over SMTP and store it in the drop folder.

    Listens on [inbound] listen; a recipient at any other domain gets 550 5.7.1 (never an
    open relay). Each message becomes one file in [inbound] dir (made if missing), written
    and fsynced before the 250; when it cannot be written (a full disk) the sender gets 451 and
    tries again. STARTTLS with [inbound] tls_cert and tls_key. Logs a line per message to
    [relay] log_file (else stderr). Stops on Ctrl-C or SIGTERM.
    """
    from relay.daemon.logsetup import configure_logging
    from relay.inbound.server import InboundServer

    config = config_of(ctx)
    inbound = config.inbound
    if not inbound.domains:
        raise UsageFailure(f"[inbound] domains is empty ({config.path or 'embedded defaults'}): "
                           "set the domains whose mail comes back here, like "
                           "domains = [\"example.org\"]")
    configure_logging(config.relay.log_level, config.relay.log_file)
    try:
        inbound.dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageFailure(f"cannot make the drop folder {inbound.dir} ([inbound] dir): "
                           f"{e.strerror or e}") from None
    try:
        server = InboundServer(inbound)
    except OSError as e:   # ssl.SSLError is one too; ssl is not imported here: ~5 MB in `relay run`
        raise UsageFailure(f"cannot use [inbound] tls_cert {inbound.tls_cert} and tls_key "
                           f"{inbound.tls_key}: {e}") from None
    stop = stop_on_signals()
    try:
        server.start()
    except (OSError, RuntimeError) as e:
        raise UsageFailure(f"cannot listen on {inbound.listen} ([inbound] listen): "
                           f"{getattr(e, 'strerror', None) or e}") from None
    tls = ", STARTTLS offered" if server.tls else ""
    logging.getLogger("relay.inbound").info("receiving mail for %s on %s%s into %s",
                                            ", ".join(inbound.domains), inbound.listen, tls, inbound.dir)
    click.echo(f"receive: mail for {', '.join(inbound.domains)} on {inbound.listen}{tls}, "
               f"stored in {inbound.dir}")
    serve_until(stop, server)
    click.echo("receive: stopped")


class SendmailCommand(click.Command):
    """A command whose usage errors exit 64 (EX_USAGE), as sendmail's do."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            e.exit_code = os.EX_USAGE
            raise


@click.command(name="deliver-inbound", cls=SendmailCommand)
@click.option("-f", "sender", default="", metavar="SENDER",
              help="the envelope sender (empty or <> for a bounce)")
@click.argument("recipients", nargs=-1)
@click.pass_context
def deliver_inbound(ctx: click.Context, sender: str, recipients: tuple[str, ...]) -> None:
    """Store the message on standard input in the drop folder, for RECIPIENTS.

    For an MTA that already took the mail: a Postfix `pipe` transport (master.cf:
    argv=.../relay deliver-inbound -f ${sender} -- ${recipient}) or an alias. The same checks
    as `relay receive`. Exit status (sysexits.h): 0 stored; 75 cannot be stored now (the
    MTA tries again); 67 a recipient outside [inbound] domains; 65 too big or not a message;
    64 usage. One line on standard error says why.
    """
    from relay.inbound.pipe import deliver_inbound as deliver

    sender = "" if sender == "<>" else sender
    try:
        config = config_of(ctx)
    except UsageFailure as e:
        _answer(os.EX_TEMPFAIL, f"4.3.5 {e.message}")
    try:
        result = deliver(config.inbound, sender, list(recipients), sys.stdin.buffer)
    except Exception as e:   # a bug must not bounce mail: the MTA keeps it and tries again
        _answer(os.EX_TEMPFAIL, f"4.3.0 relay deliver-inbound failed: {type(e).__name__}: {e}")
    _answer(result.exit_code, result.line)


def _answer(exit_code: int, line: str) -> None:
    if exit_code != os.EX_OK:
        click.echo(line, err=True)
    sys.exit(exit_code)


COMMANDS = (receive, deliver_inbound)
