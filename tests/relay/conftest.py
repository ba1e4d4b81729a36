"""Fixtures shared by the relay tests: a real SMTP upstream and a queue config around it."""

from __future__ import annotations

import pytest

from settings import load_config
from tests.relay.relay_helpers import write_relay_toml
from tests.smtp_servers import FaultyServer


@pytest.fixture
def upstream():
    """A real aiosmtpd server on 127.0.0.1; set `upstream.faults` to make it misbehave."""
    with FaultyServer() as server:
        yield server


@pytest.fixture
def config_path(tmp_path, upstream):
    path = write_relay_toml(tmp_path, upstream.port)
    path.write_text(path.read_text().replace('["1s"]', '["1h"]'))  # deferred mail stays put
    return path


@pytest.fixture
def config(config_path):
    return load_config(config_path)
