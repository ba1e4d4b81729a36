"""Shared state on real servers: two gunicorn masters (two "hosts", one with two workers) on one
Redis and one PostgreSQL hold the failed-login limits between them (per account and client, and
the ceiling per account). Starts a throwaway redis-server on
127.0.0.1 and uses a fresh database on the suite's throwaway PostgreSQL; skipped with the reason
when redis-server or PostgreSQL is not installed."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.configs import config_file
from tests.ports import free_port
from tests.webapp.site.test_gunicorn import ROOT, unit_command, wait_for

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="needs redis-server (make test installs it as root)")


@pytest.fixture
def redis_url(tmp_path):
    port = free_port()
    server = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=15)


class Browser:
    """A client with its own cookies and address, talking to one site address."""

    def __init__(self, base: str, address: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.opener.addheaders = [("X-Forwarded-For", address)]   # the client, as a proxy names it

    def login(self, email: str, password: str) -> int:
        page = self.opener.open(f"{self.base}/account/login", timeout=10).read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password})
        try:
            return self.opener.open(f"{self.base}/account/login", data.encode(), timeout=10).status
        except urllib.error.HTTPError as e:
            return e.code


def test_two_sites_on_one_redis_and_postgresql_share_the_failed_login_limits(tmp_path, redis_url,
                                                                            postgres_database):
    config = config_file(tmp_path, webapp={
        "database_url": postgres_database, "ratelimit_storage": redis_url, "base_url": "http://127.0.0.1",
        "failed_logins_per_hour": 4, "failed_logins_all_clients_per_hour": 6, "trusted_proxies": 1})
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(config)}
    subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "db", "upgrade"], env=env,
                   check=True, capture_output=True, timeout=120)
    sites = []
    try:
        for workers in (2, 1):
            port = free_port()
            with open(tmp_path / f"gunicorn-{port}.log", "wb") as out:
                sites.append((port, subprocess.Popen(
                    unit_command(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                    env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)})))
        for port, proc in sites:
            wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        a, b = (Browser(f"http://127.0.0.1:{port}", "198.51.100.1") for port, _proc in sites)
        statuses = [site.login("ann@example.org", "wrong password") for site in (a, b, a, b)]
        assert statuses == [200, 200, 200, 200]           # four failures, two on each site
        assert a.login("ann@example.org", "wrong password") == 429
        assert b.login("ann@example.org", "wrong password") == 429
        assert a.login("bob@example.org", "wrong password") == 200   # the limit is per address
        # Another client is not paused by the first one's guesses, until the account's ceiling.
        c, d = (Browser(f"http://127.0.0.1:{port}", "198.51.100.2") for port, _proc in sites)
        statuses = [site.login("ann@example.org", "wrong password") for site in (c, d, c, d)]
        assert statuses == [200, 200, 429, 429]   # the fifth and sixth failures, then the ceiling
    finally:
        for _port, proc in sites:
            proc.send_signal(signal.SIGTERM)
        for _port, proc in sites:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
