"""docs/production.md's "Running the site in production", followed on a scratch root as far as a machine
without systemd allows: the site's user migrates the database and passes `flask check` (the
unit's ExecStartPre), gunicorn starts with the unit's command line and umask, /healthz answers,
and a registration's activation mail lands in pickup as the site's user's file, which the relay,
running as its own user, delivers over STARTTLS with AUTH. Needs root (as CI runs)."""

from __future__ import annotations

import http.client
import os
import pwd
import re
import stat
import subprocess
import time
from pathlib import Path

import trustme

from tests.ports import free_port
from tests.relay.relay_helpers import files, wait_until
from tests.relay.test_production_layout import (  # noqa: F401  (fixtures)
    REPO,
    install_config,
    layout,
    protected_hardlinks,
    pytestmark,
    smart_host,
    start_relay_as,
    stop,
)


def unit_line(unit: str, key: str) -> list[str]:
    """The words of `key=` in a contrib unit after its program, which is a venv's script."""
    for line in (REPO / "contrib" / unit).read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1].replace("/srv/pickup-relay", str(REPO)).split()[1:]
    raise AssertionError(f"{unit} has no {key}")


def start_site_as(layout, port: int, log: Path) -> subprocess.Popen:  # noqa: F811
    entry = pwd.getpwnam(layout.site)
    command = [layout.python, "-m", "gunicorn", *unit_line("pickup-relay-site.service", "ExecStart")]
    with open(log, "wb") as out:
        return subprocess.Popen(command, user=entry.pw_uid, group=entry.pw_gid,
                                extra_groups=os.getgrouplist(layout.site, entry.pw_gid), umask=0o027,
                                env={**layout.env, "GUNICORN_BIND": f"127.0.0.1:{port}",
                                     "WEB_CONCURRENCY": "2"},
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


class ProxiedClient:
    """Requests as nginx passes them on: Host and X-Forwarded-Proto of the public https address."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Host": "qa.example.org", "X-Forwarded-Proto": "https",
                   "X-Forwarded-For": "203.0.113.7", "Referer": f"https://qa.example.org{path}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()


def test_the_site_runs_as_its_own_user_and_its_mail_reaches_the_smart_host(layout, tmp_path):  # noqa: F811
    from urllib.parse import urlencode

    ca, logins = trustme.CA(), []
    with smart_host(ca, logins) as upstream:
        install_config(layout, upstream.port, ca)
        text = layout.config.read_text().replace('ratelimit_storage = "redis://127.0.0.1:6379/0"',
                                                 'ratelimit_storage = "memory://"')  # no Redis here
        text = text.replace("sqlite:////var/lib/", f"sqlite:///{layout.root}/var/lib/")
        layout.config.write_text(text)
        flask = [layout.python, "-m", "flask", "--app", "webapp"]
        migrated = layout.as_user(layout.site, [*flask, "db", "upgrade"])
        assert migrated.returncode == 0, migrated.stderr.decode()
        state = layout.root / "var/lib/pickup-relay-site"
        assert stat.S_IMODE((state / "webapp.db").stat().st_mode) == 0o600
        assert stat.S_IMODE((state / "secret_key").stat().st_mode) == 0o600
        checked = layout.as_user(layout.site, [*flask, *unit_line("pickup-relay-site.service",
                                                                   "ExecStartPre")[2:]])
        assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()

        port = free_port()
        site = start_site_as(layout, port, tmp_path / "gunicorn.log")
        relay = None
        try:
            client = ProxiedClient(port)
            deadline = time.monotonic() + 30
            while True:
                assert site.poll() is None, (tmp_path / "gunicorn.log").read_text()
                try:
                    status, body = client.request("GET", "/healthz")
                    if status == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "gunicorn did not answer /healthz"
                time.sleep(0.1)
            assert '"status":"ok"' in body.replace(" ", "")

            _status, form = client.request("GET", "/account/register")
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
            status, page = client.request("POST", "/account/register", urlencode({
                "csrf_token": token, "display_name": "Ann", "email": "ann@example.org",
                "password": "correct horse battery", "confirm": "correct horse battery"}))
            assert status == 200 and "Check your inbox" in page, page[:2000]
            (mail,) = files(layout.pickup)
            st = mail.stat()
            assert (pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)) == (layout.site, 0o640)
            assert st.st_gid == pwd.getpwnam(layout.relay).pw_gid

            relay = start_relay_as(layout)
            wait_until(lambda: upstream.received, timeout=30, what="the activation mail sent")
        finally:
            if relay is not None:
                assert stop(relay) == 0
            site.terminate()
            site.wait(timeout=40)
    (received,) = upstream.received
    assert received.recipients == ["ann@example.org"] and received.tls in ("TLSv1.2", "TLSv1.3")
    assert b"https://qa.example.org/account/activate/" in received.content.replace(b"=\n", b"")
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Booting worker" in log and "/healthz" in log
