"""The site under gunicorn as contrib/pickup-relay-site.service starts it: the unit's command line
and contrib/gunicorn.conf.py, two workers, /healthz, an access log without tokens, SIGHUP
reload and SIGTERM stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.configs import SITE, config_file
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
pytest.importorskip("gunicorn")


def unit_command() -> list[str]:
    """ExecStart= of the site's unit, with the install path made this checkout's."""
    for line in (ROOT / "contrib" / "pickup-relay-site.service").read_text().splitlines():
        if line.startswith("ExecStart="):
            words = line.removeprefix("ExecStart=").replace("/srv/pickup-relay", str(ROOT)).split()
            return [str(Path(sys.executable).parent / "gunicorn"), *words[1:]]
    raise AssertionError("no ExecStart in the unit")


def get(url: str, timeout: float = 5.0, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "gunicorn exited"
        try:
            if get(url, timeout=1.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s")


@pytest.fixture
def site_config(tmp_path) -> Path:
    path = config_file(tmp_path, SITE, webapp={"base_url": "https://qa.example.org"})
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(path)}
    subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "db", "upgrade"], env=env,
                   check=True, capture_output=True, timeout=120)
    return path


@contextmanager
def gunicorn(site_config: Path, log: Path, workers: int = 2):
    """gunicorn as the unit starts it on a free loopback port, answering /healthz; its address
    and process. Stopped (killed if it has to be) after."""
    port = free_port()
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(site_config), "GUNICORN_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": str(workers)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(unit_command(), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", proc)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_gunicorn_serves_the_site_as_the_unit_starts_it(site_config, tmp_path):
    log = tmp_path / "gunicorn.log"
    with gunicorn(site_config, log) as (base, proc):
        status, body = get(f"{base}/")
        assert status == 200 and b"Q&amp;A" in body
        assert get(f"{base}/account/reset/secret-token-value")[0] in (302, 400)
        proc.send_signal(signal.SIGHUP)              # the unit's ExecReload
        time.sleep(1.0)
        wait_for(f"{base}/healthz", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    text = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in text
    assert "/account/reset/[token]" in text and "secret-token-value" not in text
    assert text.count("Booting worker") >= 4      # two at start, two more after the reload


def test_a_token_in_the_referer_is_not_in_the_access_log(site_config, tmp_path):
    log = tmp_path / "gunicorn.log"
    with gunicorn(site_config, log, workers=1) as (base, proc):
        # A link followed from an unsubscribe page by a browser that ignored its no-referrer.
        referer = "https://qa.example.org/unsubscribe/secret-token-value"
        assert get(f"{base}/questions", headers={"Referer": referer})[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    text = log.read_text()
    assert '"GET /questions HTTP/1.1" 200' in text
    assert '"https://qa.example.org/unsubscribe/[token]"' in text and "secret-token-value" not in text


def test_a_script_name_header_sent_to_gunicorn_moves_no_link(site_config, tmp_path):
    with gunicorn(site_config, tmp_path / "gunicorn.log", workers=1) as (base, _proc):
        # From this host, as nginx would be: nginx sends no such header, so none is believed.
        status, body = get(f"{base}/evil/", headers={"SCRIPT_NAME": "/evil"})
        assert b'href="/evil/' not in body and status == 404
        status, body = get(f"{base}/")   # the next visitor, within page_cache_ttl
        assert status == 200 and b'href="/evil/' not in body and b'href="/questions' in body
