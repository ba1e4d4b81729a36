"""Fixtures shared by the relay tests: a real SMTP upstream and a queue config around it."""

from __future__ import annotations

import os
import subprocess

import pytest

from settings import load_config
from tests.relay.relay_helpers import relay_config_file
from tests.smtp_servers import FaultyServer


@pytest.fixture
def upstream():
    """A real aiosmtpd server on 127.0.0.1; set `upstream.faults` to make it misbehave."""
    with FaultyServer() as server:
        yield server


@pytest.fixture
def config_path(tmp_path, upstream):
    return relay_config_file(tmp_path, upstream.port, retry_schedule=["1h"])  # deferred mail stays put


@pytest.fixture
def config(config_path):
    return load_config(config_path)


@pytest.fixture
def small_disk(tmp_path):
    """small_disk(KB) mounts a real tmpfs of that size in tmp_path and returns its path;
    unmounted after the test. Skipped, saying why, when not root or mount fails."""
    mounted = []

    def mount(kilobytes: int):
        if os.geteuid() != 0:
            pytest.skip("mounting a small filesystem to fill needs root")
        path = tmp_path / f"disk{len(mounted)}"
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k,mode=0755", "tmpfs",
                               str(path)], capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(path)
        return path
    try:
        yield mount
    finally:
        for path in mounted:
            if subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode:
                subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)
