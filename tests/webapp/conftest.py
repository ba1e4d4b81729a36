"""Fixtures for the site: an app on a real SQLite file in tmp_path, its pickup folder, a client;
and a throwaway PostgreSQL server with a fresh database for each test that asks for one."""

from __future__ import annotations

import re
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.configs import SITE, build_config, replaced
from tests.ports import free_port
from tests.webapp.postgres_server import BINARIES, throwaway_postgres
from webapp import create_app
from webapp.site.config import site_config, use_config
from webapp.site.extensions import db

POSTGRES_BINARIES = BINARIES
needs_postgres = pytest.mark.skipif(not POSTGRES_BINARIES, reason="needs PostgreSQL's server binaries")


@pytest.fixture
def config(tmp_path: Path):
    return build_config(tmp_path, SITE)


@contextmanager
def site_app(config):
    """The site on `config` (testing mode), its database migrated; the engine disposed after."""
    app = create_app(config, {"TESTING": True})
    try:
        with app.app_context():
            from flask_migrate import upgrade
            upgrade()
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(config):
    with site_app(config) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def site(app):
    """The app served for real on 127.0.0.1 (for a browser); stopped after the test."""
    port = free_port()
    reconfigure(app, base_url=f"http://127.0.0.1:{port}")
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="site-server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def reconfigure(app, **webapp) -> None:
    """Run `app` from now on with these [webapp] values: its Config, built again with them."""
    use_config(app, replaced(site_config(app), webapp=webapp))


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)
    return re.search(r'value="([^"]+)"', field).group(1)


def post_form(client, path: str, **fields):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **fields})


def choose_password(client, link: str, password: str):
    """Follow a reset link (it redirects to the form at a URL without the token) and send the form."""
    opened = client.get(link)
    assert opened.status_code == 302, opened.status_code
    return post_form(client, opened.location, password=password, confirm=password)


def activate(client, link: str):
    """Open an activation link (it redirects to the page without the token) and press its button."""
    opened = client.get(link)
    assert opened.status_code == 302, opened.status_code
    return post_form(client, opened.location)


def pickup_messages(config) -> list[bytes]:
    return [p.read_bytes() for p in sorted(config.pickup.dir.glob("*.eml"))]


def link_in(message: bytes, kind: str) -> str:
    """The site path of the activation or reset link in a mail's text part (QP-decoded)."""
    import quopri
    text = quopri.decodestring(message).decode("utf-8", "replace")
    return re.search(rf"https?://[^/\s]+(/account/{kind}/[A-Za-z0-9_.\-]+)", text).group(1)


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server (tests/webapp/postgres_server.py) for the whole run; its
    `postgres` database's URL."""
    if not POSTGRES_BINARIES:
        pytest.skip("needs PostgreSQL's server binaries")
    pytest.importorskip("psycopg")
    with throwaway_postgres() as url:
        yield url


@pytest.fixture
def postgres_database(postgres_url):
    """The URL of a new, empty database on the throwaway server, dropped after the test."""
    import psycopg

    name = f"test_{secrets.token_hex(6)}"
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
