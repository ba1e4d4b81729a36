"""contrib/nginx.conf in front of the site under gunicorn: TLS, static files from disk with cache
headers, the site's security headers each sent once, the body-size limit, /metrics closed,
/healthz for this host only, http sent to https, and an access log without link tokens. nginx
runs unprivileged ports on 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.ports import free_port
from tests.webapp.site.test_gunicorn import ROOT, site_config, unit_command, wait_for  # noqa: F401

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="needs nginx (make test installs nginx-light as root)")
trustme = pytest.importorskip("trustme")


def nginx_site(tmp_path: Path, http_port: int, https_port: int, upstream: int, cert, key) -> str:
    """contrib/nginx.conf with this test's ports, certificate, log and checkout."""
    text = (ROOT / "contrib" / "nginx.conf").read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "/etc/letsencrypt/live/qa.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/qa.example.org/privkey.pem": str(key),
        "/var/log/nginx/pickup-relay-site.access.log": str(tmp_path / "access.log"),
        "/srv/pickup-relay/webapp/static/": f"{ROOT}/webapp/static/",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def proxied_site(site_config, tmp_path):  # noqa: F811
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "qa.example.org")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(cert))
    server_cert.private_key_pem.write_to_path(str(key))
    upstream, http_port, https_port = free_port(), free_port(), free_port()
    (tmp_path / "site.conf").write_text(nginx_site(tmp_path, http_port, https_port, upstream, cert, key))
    temp = tmp_path / "nginx-temp"
    temp.mkdir()
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "worker_processes 1;\nevents { worker_connections 64; }\n"
        "http {\n  include /etc/nginx/mime.types;\n"
        + "".join(f"  {kind}_temp_path {temp}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {tmp_path}/site.conf;\n}}\n")
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(site_config),
           "GUNICORN_BIND": f"127.0.0.1:{upstream}", "WEB_CONCURRENCY": "1"}
    with open(tmp_path / "gunicorn.log", "wb") as out:
        gunicorn = subprocess.Popen(unit_command(), cwd=ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
    nginx = None
    try:
        wait_for(f"http://127.0.0.1:{upstream}/healthz", gunicorn)
        with open(tmp_path / "nginx.out", "wb") as out:
            nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                                     stdout=out, stderr=subprocess.STDOUT)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        _wait_for_port(https_port, nginx, tmp_path / "nginx.out")
        yield https_port, http_port, context, tmp_path
    finally:
        for proc in (nginx, gunicorn):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def _wait_for_port(port: int, proc: subprocess.Popen, output: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, output.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on {port}")


def request(port, context, method, path, body=None, headers=None, source="127.0.0.1"):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10,
                                       source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def header_count(headers, name: str) -> int:
    return sum(1 for key, _value in headers if key.lower() == name.lower())


def test_nginx_in_front_of_gunicorn_does_what_contrib_nginx_conf_says(proxied_site):
    https_port, http_port, context, folder = proxied_site
    status, headers, body = request(https_port, context, "GET", "/")
    assert status == 200 and b"Q&amp;A" in body
    for name in ("Content-Security-Policy", "Strict-Transport-Security", "X-Frame-Options",
                 "X-Content-Type-Options", "Referrer-Policy"):
        assert header_count(headers, name) == 1, name
    assert header_count(headers, "Server") == 1 and dict(headers)["Server"] == "nginx"

    status, headers, body = request(https_port, context, "GET", "/static/style.css")
    assert status == 200 and body == (ROOT / "webapp" / "static" / "style.css").read_bytes()
    cache = dict((k.lower(), v) for k, v in headers)["cache-control"]
    assert "max-age=604800" in cache and "public" in cache

    status, _headers, _body = request(https_port, context, "POST", "/account/login", body=b"x" * 2_000_000,
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413
    assert request(https_port, context, "GET", "/metrics")[0] == 404
    # /healthz for a monitor on this host (or the addresses allowed beside it), not the world.
    assert request(https_port, context, "GET", "/healthz")[0] == 200
    assert request(https_port, context, "GET", "/healthz", source="127.0.0.2")[0] == 403
    request(https_port, context, "GET", "/account/reset/secret-token-value")

    plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    plain.request("GET", "/questions", headers={"Host": "qa.example.org"})
    redirect = plain.getresponse()
    assert redirect.status == 301 and redirect.getheader("Location") == "https://qa.example.org/questions"
    plain.close()

    log = (folder / "access.log").read_text()
    assert "/account/reset/[token]" in log and "secret-token-value" not in log
