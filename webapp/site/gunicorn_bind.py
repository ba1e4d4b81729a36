"""Where gunicorn will listen when contrib/pickup-relay-site.service starts it, and whether only
this host can reach it there: the facts behind `flask check`'s "gunicorn bind".

Reads, in this process's environment (the unit runs `flask check` with the one gunicorn gets):
contrib/gunicorn.conf.py, run as gunicorn runs it (its bind comes from $GUNICORN_BIND), then
--bind/-b in $GUNICORN_CMD_ARGS, which gunicorn lets override the file. A unix socket or a
loopback address is this host's only; anything else (0.0.0.0, a public address, a name other
than localhost, a socket systemd hands over) lets others reach gunicorn without the proxy.
"""

from __future__ import annotations

import ipaddress
import os
import runpy
import shlex
from pathlib import Path

GUNICORN_CONF = Path(__file__).resolve().parents[2] / "contrib" / "gunicorn.conf.py"


def gunicorn_binds(conf: Path = GUNICORN_CONF) -> list[str]:
    """The addresses gunicorn started with `conf` in this environment listens on; [] when
    there is no `conf` to read (not a checkout: nothing to tell)."""
    from_cmd_args = _binds_in(shlex.split(os.environ.get("GUNICORN_CMD_ARGS", "")))
    if from_cmd_args:
        return from_cmd_args
    if not conf.is_file():
        return []
    bind = runpy.run_path(str(conf)).get("bind", "127.0.0.1:8000")   # gunicorn's own default
    return [bind] if isinstance(bind, str) else list(bind)


def this_host_only(bind: str) -> bool:
    """Whether gunicorn's `bind` ("HOST:PORT", "[V6]:PORT", "unix:PATH") is reachable from this host alone."""
    if bind.startswith("unix:"):
        return True
    address = bind.removeprefix("tcp://")
    if address.startswith("["):   # [V6]:PORT
        host = address[1:address.find("]")]
    else:
        host = address.rpartition(":")[0] if ":" in address else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:   # "" (every address), a name, fd://: not provably this host's
        return False


def _binds_in(args: list[str]) -> list[str]:
    binds = []
    for i, arg in enumerate(args):
        if arg in ("-b", "--bind") and i + 1 < len(args):
            binds.append(args[i + 1])
        elif arg.startswith("--bind="):
            binds.append(arg.removeprefix("--bind="))
        elif arg.startswith("-b") and len(arg) > 2:
            binds.append(arg[2:])
    return binds
