"""A throwaway PostgreSQL server: Debian's binaries, a fresh cluster in a temporary folder,
127.0.0.1 on a free port, fsync off; stopped and removed on leaving. For the tests on
PostgreSQL and bench/site_load.py."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port

BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


def _as_server_user(command: list[str]) -> list[str]:
    # initdb refuses to run as root: run the server as the postgres system user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def throwaway_postgres(options: str = "") -> Iterator[str]:
    """Yields the SQLAlchemy URL of a new cluster's `postgres` database, user `site`.
    `options` adds server settings (`-c name=value ...`)."""
    bin_dir = BINARIES[-1].parent
    data = Path(tempfile.mkdtemp(prefix="pickup-relay-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
    port = free_port()
    run = dict(check=True, capture_output=True, timeout=120)
    try:
        subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust",
                                        "-U", "site", "--no-sync"]), **run)
        subprocess.run(_as_server_user([
            str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"), "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off {options}", "start"]), **run)
        yield f"postgresql+psycopg://site@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast",
                                        "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)
