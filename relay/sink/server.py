"""The local catch-all SMTP server: stores every message it receives as a Maildir.

An aiosmtpd server on [sink] host/port that accepts any sender and recipient
and writes each message to `<maildir>/new/` (relay/sink/maildir.py: via `tmp/`, then
rename), with the envelope prepended as `X-Envelope-From:` and one
`X-Envelope-To:` per recipient; `relay inbox` (relay/sink/inbox.py) shows them.
It is the smart host of a local run and the upstream of the tests.
Given a certificate and key (PEM) it offers and requires STARTTLS, or with
implicit_tls speaks TLS from the first byte (port 465 style); a local TLS
smart host for benchmarks and tests. It trusts nothing it receives and
stores it as it came (line ends made LF).
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable

from aiosmtpd.controller import Controller

from relay.sink.maildir import Maildir


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now on `host` (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MaildirHandler:
    """aiosmtpd handler: every DATA becomes one Maildir file."""

    def __init__(self, maildir: Maildir, on_message: Callable[[str], None] | None = None):
        self.maildir = maildir
        self.on_message = on_message

    async def handle_DATA(self, server, session, envelope):
        sender = "" if envelope.mail_from in (None, "<>") else envelope.mail_from
        path = self.maildir.store(sender, list(envelope.rcpt_tos), envelope.content)
        if self.on_message:
            self.on_message(f"from=<{sender}> to=<{','.join(envelope.rcpt_tos)}> "
                            f"size={len(envelope.content)} stored={path.name}")
        return f"250 OK stored as {path.name}"


def server_context(cert_file: str | os.PathLike, key_file: str | os.PathLike) -> ssl.SSLContext:
    """A TLS server context from a PEM certificate (chain) and its key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def refuse_taken_port(host: str, port: int) -> None:
    """OSError at once when host:port cannot be bound (taken, not this host's address): an
    aiosmtpd controller would wait out its ready_timeout first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


class Sink:
    """A running sink; a context manager that always stops the server it started."""

    def __init__(self, maildir: str | os.PathLike, host: str = "127.0.0.1", port: int = 0,
                 on_message: Callable[[str], None] | None = None,
                 tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False):
        self.maildir = Maildir(maildir)
        self.host = host
        self.port = port or free_port(host)
        if tls_context is None:
            tls = {}
        elif implicit_tls:
            tls = {"ssl_context": tls_context}
        else:
            tls = {"tls_context": tls_context, "require_starttls": True}
        self.controller = Controller(
            MaildirHandler(self.maildir, on_message), hostname=host, port=self.port,
            enable_SMTPUTF8=True, data_size_limit=None, ready_timeout=10, **tls,
        )

    def start(self) -> Sink:
        refuse_taken_port(self.host, self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> Sink:
        try:
            return self.start()
        except BaseException:
            self._stop_quietly()
            raise

    def _stop_quietly(self) -> None:
        try:
            self.controller.stop()
        except (AssertionError, RuntimeError, OSError):
            pass  # it never started

    def __exit__(self, *exc) -> None:
        self.stop()
