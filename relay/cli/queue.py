"""The sysadmin's queue commands: status, list, show, retry, hold, release, delete, requeue-badmail.

Thin: each parses, calls relay.admin (the status report and its problem rules,
selections and moves, shared with any other front end) or relay.admin.listing (rows and
one message), and prints a table or one JSON document. A message a running relay
holds in active/ is reported busy.
"""

from __future__ import annotations

import json
import sys
import time

import click

from relay.admin.listing import message_detail, message_rows
from relay.admin.moves import MOVES, apply_move, select
from relay.admin.status import WARN_AGE, SmartHostState, config_source, status_report
from relay.cli.common import (
    EXIT_PROBLEM,
    act_as_queue_owner,
    config_of,
    printable_lines,
    shorten,
    table,
)
from relay.queue.folders import ACTIVE, BADMAIL, DEFERRED, HOLD, SENT, Queue
from settings.units import format_age, format_duration, format_size, parse_duration


def _queue(ctx: click.Context) -> Queue:
    config = config_of(ctx)
    act_as_queue_owner(config.relay.queue_dir)
    return Queue.from_config(config)


def _duration(_ctx, _param, value):
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@click.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON document instead of a table")
@click.option("--warn-age", default=format_duration(WARN_AGE), show_default=True, callback=_duration,
              help="a deferred message older than this needs a human")
@click.option("--no-smarthost", is_flag=True, help="skip the EHLO to the smart host")
@click.pass_context
def status(ctx: click.Context, as_json: bool, warn_age: float, no_smarthost: bool) -> None:
    """Counts, bytes and oldest age per folder, the smart host, the running relays.

    Exit status 1 when something needs a human: the smart host does not
    answer or refuses the relay (TLS, login), badmail is not empty, a
    deferred message is older than --warn-age, or the pickup filesystem is
    nearly full (under 5% or 100 MB free, whichever is larger). With [inbound]
    domains set, also the drop folder and its badmail/: missing, a file older
    than --warn-age (the site is not reading it), or badmail not empty.
    Usable as a monitoring check.
    """
    config = config_of(ctx)
    report = status_report(config, _queue(ctx), warn_age=warn_age, probe_smarthost=not no_smarthost)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        folders = {**report.folders, **(report.inbound or {})}
        rows = [[f, str(t.count), format_size(t.bytes), format_age(t.oldest_age)]
                for f, t in folders.items()]
        click.echo(f"config: {report.config}\n")
        click.echo(table(["folder", "messages", "size", "oldest"], rows, right={1, 2, 3}))
        click.echo("")
        for line in smarthost_lines(report.smarthosts, time.time()):
            click.echo(line)
        if report.relays:
            for line in running_lines(report.relays):
                click.echo(f"relay running: {line}")
        else:
            click.echo("relay running: none")
        if report.problems:
            click.echo("\nneeds attention:")
            for p in report.problems:
                click.echo(f"  - {p}")
    if report.problems:
        sys.exit(EXIT_PROBLEM)


def smarthost_lines(hosts: list[SmartHostState], now: float) -> list[str]:
    """One line per smart host: the probe's answer, then what the running relays saw of it."""
    lines = []
    for host in hosts:
        state = {True: "reachable", False: "NOT USABLE", None: "not checked"}[host.reachable]
        if host.reachable is False and host.unreachable:
            state = "UNREACHABLE"
        line = f"smart host {host.label}: {state}"
        if host.reachable is not None:
            line += f" ({host.detail})"
        seen = host.seen
        if seen is not None and (seen.cooling_until is not None or seen.last_answered is not None
                                 or len(hosts) > 1):
            line += f"; relays: {seen.describe(now)}"
        lines.append(line)
    return lines


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="one JSON document instead of a table")
@click.option("--folder", type=click.Choice([ACTIVE, DEFERRED, HOLD, BADMAIL, SENT]), default=None,
              help="only this folder (default: all but sent)")
@click.option("--sender", default=None, help="only senders containing this text")
@click.option("--recipient", default=None, help="only recipients containing this text")
@click.option("--older-than", default=None, callback=_duration, help='only older than, e.g. "2h"')
@click.option("--limit", type=int, default=None, help="at most this many rows (oldest first)")
@click.pass_context
def list_(ctx: click.Context, as_json: bool, folder: str | None, sender: str | None,
          recipient: str | None, older_than: float | None, limit: int | None) -> None:
    """One line per queued message: id, folder, age, size, sender, recipients, attempts, last error."""
    folders = (folder,) if folder else (ACTIVE, DEFERRED, HOLD, BADMAIL)
    rows = message_rows(_queue(ctx), folders, sender=sender, recipient=recipient,
                        older_than=older_than)
    if limit is not None:
        rows = rows[:limit]
    if as_json:
        click.echo(json.dumps({"config": config_source(config_of(ctx)),
                               "messages": [r.to_json() for r in rows]}))
        return
    if not rows:
        click.echo("no messages")
        return
    lines = [[r.id, r.folder + ("*" if r.priority == "bulk" else ""), format_age(r.age),
              format_size(r.size), r.sender or "<>", _recipients(r.recipients), str(r.attempts),
              shorten(r.last_error, 60)] for r in rows]
    text = table(["id", "folder", "age", "size", "sender", "recipients", "tries", "last error"],
                 lines, right={2, 3, 6})
    text += f"\n{len(rows)} message(s); * = bulk; config: {config_source(config_of(ctx))}"
    if sys.stdout.isatty() and len(rows) > 40:
        click.echo_via_pager(text)
    else:
        click.echo(text)


def running_lines(relays) -> list[str]:
    """One line per `relay run`: a supervisor with its processes, or a lone relay process."""
    groups: dict[tuple[str, int], list] = {}
    for r in relays:
        groups.setdefault((r.host, r.supervisor or r.pid), []).append(r)
    lines = []
    for (host, pid), members in groups.items():
        up = format_age(max(m.uptime for m in members))
        if members[0].supervisor:
            pids = ", ".join(str(m.pid) for m in members)
            lines.append(f"pid {pid} on {host} (supervisor of {len(members)} processes: {pids}), up {up}")
        else:
            lines.append(f"pid {pid} on {host}, up {up}")
    return lines


def _recipients(recipients: list[str]) -> str:
    if len(recipients) <= 2:
        return ", ".join(recipients)
    return f"{recipients[0]}, +{len(recipients) - 1} more"


@click.command()
@click.argument("queue_id")
@click.pass_context
def show(ctx: click.Context, queue_id: str) -> None:
    """Headers, envelope, folder and attempt history of one message."""
    detail = message_detail(_queue(ctx), queue_id)
    if detail is None:
        raise click.ClickException(f"{queue_id}: no such message in the queue")
    r = detail.row
    click.echo(f"id:         {r.id} ({r.priority})\nfolder:     {r.folder}/\nfile:       {detail.path}")
    click.echo(f"age:        {format_age(r.age)}\nsize:       {format_size(r.size)}")
    click.echo(f"sender:     <{r.sender}>\nrecipients: " + ", ".join(f"<{x}>" for x in r.recipients))
    if r.next_attempt is not None:
        click.echo(f"next try:   {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r.next_attempt))}")
    click.echo(f"attempts:   {r.attempts}")
    for a in detail.history:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a["at"]))
        click.echo(f"  {when}  {a['reply']}  ({', '.join(a['recipients'])})")
    if r.refused:
        click.echo("refused for good:")
        for x in r.refused:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(x.at))
            click.echo(f"  <{x.recipient}>  {x.reply}  ({when})")
    if detail.reason:
        click.echo("\nbadmail:\n" + printable_lines(detail.reason.rstrip()))
    click.echo("\nheaders:\n" + printable_lines(detail.headers.rstrip()))


def _check_ids(ids: tuple[str, ...], all_: bool, filters: dict) -> None:
    if not all_ and not ids:
        raise click.UsageError("give message ids (see `relay list`), or --all")
    if not all_ and any(v is not None for v in filters.values()):
        raise click.UsageError("--sender, --recipient and --older-than go with --all")


def _apply(ctx: click.Context, ids: tuple[str, ...], all_: bool, move: str, filters: dict,
           folder: str | None = None) -> None:
    """Run relay.admin's `move` on each id (or, with --all, every match in its folder), print
    each result, and exit 1 if any failed."""
    _check_ids(ids, all_, filters)
    queue = _queue(ctx)
    if all_:
        folder = folder or MOVES[move].folder
        ids = tuple(select(queue, folder, **filters))
        if not ids:
            click.echo(f"nothing to do: no matching message in {folder}/")
    done = MOVES[move].done
    results = apply_move(queue, move, ids)
    for r in results:
        if r.ok:
            click.echo(f"{done}: {r.id}" + (f" -> {r.new_id}" if r.new_id else ""))
        else:
            click.echo(f"not {done}: {r.error}", err=True)
    if not all(r.ok for r in results):
        sys.exit(EXIT_PROBLEM)


_filters = [
    click.option("--sender", default=None, help="with --all: only these senders"),
    click.option("--recipient", default=None, help="with --all: only these recipients"),
    click.option("--older-than", default=None, callback=_duration, help="with --all: only older"),
]


def _with_filters(func):
    for option in reversed(_filters):
        func = option(func)
    return func


def _move_command(move: str, every: str, summary: str) -> click.Command:
    """`relay MOVE [ID...] [--all FILTERS]`: one of relay.admin.moves' MOVES on each id."""

    @click.command(name=move, help=summary)
    @click.argument("ids", nargs=-1)
    @click.option("--all", "all_", is_flag=True, help=every)
    @_with_filters
    @click.pass_context
    def command(ctx: click.Context, ids: tuple[str, ...], all_: bool, **filters) -> None:
        _apply(ctx, ids, all_, move, filters)
    return command


retry = _move_command("retry", "every deferred message",
                      "Make deferred messages due now (like `postqueue -f`, `postqueue -i ID`).")
hold = _move_command("hold", "every deferred message",
                     "Keep messages in hold/, never sent until released (like `postsuper -h`).")
release = _move_command("release", "every held message",
                        "Return held messages to deferred/, due now (like `postsuper -H`).")
requeue_badmail = _move_command(
    "requeue-badmail", "every badmail message",
    "Give badmail messages another chance (like `postsuper -r`): a new id in deferred/, due now, "
    "a fresh lifetime, sent only to the recipients that did not get it.")


@click.command()
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="every message in --folder")
@click.option("--folder", type=click.Choice([DEFERRED, HOLD, BADMAIL, SENT]), default=DEFERRED,
              show_default=True, help="with --all: which folder to empty")
@click.option("--yes", is_flag=True, help="do not ask")
@_with_filters
@click.pass_context
def delete(ctx: click.Context, ids: tuple[str, ...], all_: bool, folder: str, yes: bool,
           **filters) -> None:
    """Remove messages for good (like `postsuper -d`); asks first unless --yes."""
    _check_ids(ids, all_, filters)
    if not yes:
        what = f"every matching message in {folder}/" if all_ else f"{len(ids)} message(s)"
        if not click.confirm(f"Delete {what}? This cannot be undone", default=False):
            raise click.Abort()
    _apply(ctx, ids, all_, "delete", filters, folder)


COMMANDS = [status, list_, show, retry, hold, release, delete, requeue_badmail]
