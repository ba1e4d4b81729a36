"""Which config a command reads while `make run` runs: the local run's, and never silently another.

scripts/run_local.py holds an exclusive flock on var/run-local.pid (beside the config it runs)
and writes var/run-local.json, {"pid": ..., "config": "/abs/path.toml" or null for the embedded
defaults}, which it removes on exit. A record is trusted only while its pid is the one in the
pid file and that file's lock is held: a record left by a killed run redirects nothing (the
kernel drops a dead process's flock). config_to_read() is the one rule the `relay` commands
and the site's `flask` commands share: with no --config and no $PICKUP_RELAY_CONFIG, a command
run in a checkout whose local run is alive reads that run's config (.run-local.toml when ports
were moved) and says so in one line on stderr; a config named explicitly is read as given, with
one line on stderr when a local run there reads another. Stdout and exit codes are untouched.
Reads only; an unreadable or malformed record or pid file counts as no local run.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from settings.loader import DEFAULT_NAME, ENV_VAR

RUN_FOLDER = "var"              # beside the config, as the run's other state
LOCK_NAME = "run-local.pid"     # the run lock; holds the run's pid
RECORD_NAME = "run-local.json"  # which config the run runs


@dataclass(frozen=True)
class LocalRun:
    """A live `make run` in a checkout: its pid and its config (None: the embedded defaults)."""

    pid: int
    config: Path | None

    def describe(self) -> str:
        return f"{shown(self.config)} (make run, pid {self.pid})"


def record_bytes(pid: int, config: Path | None) -> bytes:
    """The record run_local writes beside its lock (the one place its format is written)."""
    path = str(Path(config).resolve()) if config is not None else None
    return (json.dumps({"pid": pid, "config": path}) + "\n").encode()


def local_run_in(folder: Path) -> LocalRun | None:
    """The local run whose record sits in `folder` (a checkout's var/), if it is alive."""
    try:
        record = json.loads((folder / RECORD_NAME).read_text())
        pid, config = record["pid"], record["config"]
        if type(pid) is not int or not (config is None or isinstance(config, str)):
            return None
        if _pid_in(folder / LOCK_NAME) != pid or not _lock_held(folder / LOCK_NAME):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return LocalRun(pid, Path(config) if config is not None else None)


def config_to_read(explicit: str | os.PathLike | None, program: str) -> str | os.PathLike | None:
    """The path to hand to load_config() for a command given `explicit` (its --config, or None);
    says on stderr when a local run chose it, or runs on another config than the one chosen."""
    named = explicit if explicit is not None else os.environ.get(ENV_VAR) or None
    try:
        if named is None:
            return _the_local_runs(program)
        if Path(named).exists():
            for run in _runs_near(Path(named)):
                if run.config is None or not _same_file(run.config, Path(named)):
                    _say(program, f"reading {shown(Path(named))}, not the config of the local run, "
                                  f"{run.describe()}")
    except OSError:   # no working folder (deleted): no local run to speak of
        pass
    return explicit


def _the_local_runs(program: str) -> str | None:
    """The config of the local run in this folder when it is not ./config.toml, else None."""
    run = local_run_in(Path.cwd() / RUN_FOLDER)
    if run is None:
        return None
    default = Path(DEFAULT_NAME)
    if run.config is not None and not _same_file(run.config, default):
        _say(program, f"using the local run's config {run.describe()}")
        return str(run.config)
    if run.config is None and default.exists():   # the run reads no file; we would
        _say(program, f"reading {shown(default)}, not the config of the local run, {run.describe()}")
    return None


def shown(path: Path | None) -> str:
    """A config's name as a person in this folder would type it."""
    if path is None:
        return "embedded defaults"
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _runs_near(config: Path) -> list[LocalRun]:
    """The live local runs of this folder's checkout and of the named config's folder."""
    folders = dict.fromkeys([Path.cwd().resolve() / RUN_FOLDER, config.resolve().parent / RUN_FOLDER])
    return [run for folder in folders if (run := local_run_in(folder)) is not None]


def _same_file(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def _pid_in(lock: Path) -> int | None:
    text = lock.read_text().strip()
    return int(text) if text.isdigit() else None


def _lock_held(lock: Path) -> bool:
    """Whether a process holds the run lock: a shared lock we cannot take (held only for the
    probe; run_local retries its own lock briefly, so a probe never makes it refuse)."""
    fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)   # also drops the shared lock when we got it
    return False


def _say(program: str, text: str) -> None:
    print(f"{program}: {text}", file=sys.stderr, flush=True)
