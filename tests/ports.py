"""Ports for the servers tests start on 127.0.0.1: picked free by the test, never fixed."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now on `host`. Picked first because aiosmtpd's Controller cannot
    take port 0 (it would not say which port it got)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
