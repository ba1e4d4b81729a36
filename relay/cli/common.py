"""What every `relay` sub-command shares: the config from the context, the exit codes, formatting,
running a server until a stop signal."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import click

from relay.queue.files import user_name
from settings import Config, ConfigError, load_config
from settings.local_run import config_to_read
from spooler.names import printable

EXIT_PROBLEM, EXIT_USAGE = 1, 2   # SPEC: 0 ok, 1 a problem found, 2 usage or config error


CONFIG_HELP = ("config file (default: $PICKUP_RELAY_CONFIG, else the config of a `make run` running here, "
               "else ./config.toml, else the embedded defaults)")


def config_option() -> click.Option:
    """--config for a sub-command: the same setting as the group's, whichever place it is given."""
    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            state = ctx.find_object(dict)
            state["config_path"] = value
            state.pop("config", None)

    return click.Option(["--config"], type=click.Path(dir_okay=False), default=None,
                        expose_value=False, is_eager=True, callback=remember, help=CONFIG_HELP)


class UsageFailure(click.ClickException):
    exit_code = EXIT_USAGE


def config_of(ctx: click.Context) -> Config:
    # Loaded on first use, so `relay --config broken.toml drop --help` still shows help.
    state = ctx.find_object(dict)
    if "config" not in state:
        # While `make run` runs here, its config (saying so); kept for the supervisor's children.
        state["config_path"] = config_to_read(state["config_path"], "relay")
        try:
            state["config"] = load_config(state["config_path"])
        except ConfigError as e:
            raise UsageFailure(f"config error: {e}") from None
    return state["config"]


def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    """An aligned plain-text table; columns in `right` are right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


def act_as_queue_owner(queue_dir: Path) -> None:
    """Queue commands run as the queue's owner: as root, become it (so files written stay the
    relay's, like Postfix's postsuper); as anyone else, refuse clearly when shut out."""
    try:
        st = os.stat(queue_dir)
    except FileNotFoundError:
        return  # nothing queued yet; `relay run` makes it
    owner = user_name(st.st_uid)
    if os.geteuid() == 0:
        if st.st_uid != 0:
            if owner == str(st.st_uid):  # no passwd entry: no supplementary groups
                os.setgroups([])
            else:
                os.initgroups(owner, st.st_gid)
            os.setgid(st.st_gid)
            os.setuid(st.st_uid)
        return
    if not os.access(queue_dir, os.R_OK | os.X_OK):
        raise UsageFailure(f"the queue {queue_dir} belongs to {owner}: run this as that user "
                           f"(sudo -u {owner} relay ...) or as root")


def shorten(text: str, width: int) -> str:
    """At most `width` characters, cut at a word with an ellipsis when it had to be cut."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def printable_lines(text: str) -> str:
    """Text for a terminal: control characters (a binary file's bytes) shown escaped, never sent."""
    return printable(text.replace("\r\n", "\n"), keep="\t\n")


def stop_on_signals() -> list[int]:
    """A list Ctrl-C and SIGTERM append to; the handler only appends (one that takes a lock
    the interrupted thread holds can deadlock the process)."""
    stop: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _frame: stop.append(signum))
    return stop


def serve_until(stop: list[int], server) -> None:
    """Let a started server run until a stop signal, then stop it."""
    try:
        while not stop:
            time.sleep(0.2)
    finally:
        server.stop()
