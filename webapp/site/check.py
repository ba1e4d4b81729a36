"""Is this site set up to work? The checks behind `flask --app webapp check` and /healthz.

The config, the signing key and mail_from were already checked when the app was made
(create_app stops with the reason otherwise); this adds what only a running system
can tell: the database answers, its schema is at the newest migration, this user can
write a message into the pickup folder (a hidden file, synced and removed at once),
the rate-limit store answers, base_url is public and https, and gunicorn will listen where
only this host reaches it (webapp.site.gunicorn_bind). Each result says ok,
a warning, or what is wrong and how to fix it (settings.checks.CheckResult, the type
`relay check` answers with too). Also the probes behind /healthz (webapp.site.health):
database_answers() and pickup_writable().
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from settings.checks import CheckResult
from spooler.pickup import PICKUP_FILE_MODE, explain
from webapp.site.config import site_config
from webapp.site.extensions import db, limiter
from webapp.site.gunicorn_bind import gunicorn_binds, this_host_only

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")   # a base_url that only this machine reaches


def run_checks() -> list[CheckResult]:
    """Every check of this app (an app context), in the order `flask check` prints them."""
    config = site_config()
    results = [CheckResult("config", True, str(config.path or "embedded defaults (no config.toml)")),
               CheckResult("secret key", True, "loaded; long enough and private"),
               CheckResult("mail_from", True, config.webapp.mail_from)]
    results.append(_database())
    if results[-1].ok:
        results.append(_migrations())
    results.append(_pickup())
    results.append(_ratelimit_storage())
    results.append(_base_url(config.webapp.base_url))
    results.append(_gunicorn_bind())
    return results


def database_answers(schema: bool = True) -> str | None:
    """None when the database answers a query (on the site's schema), else why not."""
    try:
        # With the schema, a table: SQLite answers SELECT 1 without reading its file.
        db.session.execute(text("SELECT count(*) FROM alembic_version" if schema else "SELECT 1"))
        db.session.rollback()
    except Exception as e:  # any driver's error: what matters is that it said no
        db.session.rollback()
        return _first_line(e)
    return None


def pickup_writable() -> str | None:
    """None when this process can place a file in pickup (written, synced, removed), else why not."""
    folder = site_config().pickup.dir
    probe = folder / f".check-{os.getpid()}.tmp"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PICKUP_FILE_MODE)
        try:
            os.write(fd, b"X-Sender: <>\r\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        return explain(folder, e)
    return None


def _database() -> CheckResult:
    url = db.engine.url.render_as_string(hide_password=True)
    problem = database_answers(schema=False)   # an empty database is the next check's business
    if problem:
        return CheckResult("database", False, f"{url}: {problem}",
                           "start the database server, or set [webapp] database_url")
    return CheckResult("database", True, url)


def _migrations() -> CheckResult:
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    heads = set(script.get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return CheckResult("schema", True, f"at the newest migration ({', '.join(sorted(heads))})")
    have = ", ".join(sorted(current)) or "empty"
    return CheckResult("schema", False, f"at {have}, the code needs {', '.join(sorted(heads))}",
                       "flask --app webapp db upgrade")


def _pickup() -> CheckResult:
    folder = site_config().pickup.dir
    problem = pickup_writable()
    if problem:
        return CheckResult("pickup folder", False, problem,
                           f"make {folder} writable by this user (docs/production.md)")
    return CheckResult("pickup folder", True, f"{folder}: this user can place mail there")


def _ratelimit_storage() -> CheckResult:
    uri = site_config().webapp.ratelimit_storage
    shown = urlsplit(uri)._replace(netloc=urlsplit(uri).hostname or "").geturl() if "@" in uri else uri
    try:
        answers = limiter.storage.check()
    except Exception as e:  # the storage's own client error
        answers, why = False, _first_line(e)
    else:
        why = "does not answer"
    if not answers:
        return CheckResult("rate-limit store", False, f"{shown}: {why}",
                           "start it, or set [webapp] ratelimit_storage")
    if uri.startswith("memory://"):
        return CheckResult("rate-limit store", True, "memory:// (one process: limits are per "
                           "process; use redis:// with several)", warn=_several_workers())
    return CheckResult("rate-limit store", True, shown)


def _base_url(url: str) -> CheckResult:
    parts = urlsplit(url)
    if parts.hostname in LOCAL_HOSTS:
        return CheckResult("base_url", True, f"{url} (a local run: links work on this machine only)",
                           warn=True)
    if parts.scheme != "https":
        return CheckResult("base_url", True, f"{url}: links in mail and cookies go without TLS",
                           "set [webapp] base_url to the https:// address", warn=True)
    return CheckResult("base_url", True, url)


def _gunicorn_bind() -> CheckResult:
    binds = gunicorn_binds()
    shown = ", ".join(binds)
    if not binds:
        return CheckResult("gunicorn bind", True, "no contrib/gunicorn.conf.py beside the code: not checked")
    if all(this_host_only(b) for b in binds):
        return CheckResult("gunicorn bind", True, f"{shown} (this host only)")
    return CheckResult("gunicorn bind", True, f"{shown}: others reach gunicorn without the proxy, and "
                       "choose the X-Forwarded-For the site believes from it ([webapp] trusted_proxies)",
                       "listen on 127.0.0.1 or a unix socket: GUNICORN_BIND in "
                       "/etc/pickup-relay/site.env (docs/production.md)", warn=True)


def _several_workers() -> bool:
    return int(os.environ.get("WEB_CONCURRENCY", "1") or 1) > 1


def _first_line(error: Exception) -> str:
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]
