"""Real SMTP servers on 127.0.0.1 for tests: a configurable misbehaving one, a 421 greeter,
a TLS handshake-only one, and a plain-socket one that records the exact bytes a client sends."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from tests.ports import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    content: bytes
    tls: str | None = None     # the TLS version the message came over, None in plaintext
    login: object = None       # what the authenticator returned as auth_data, None without AUTH


@dataclass
class Faults:
    """What the server does wrong; change it while the server runs."""
    rcpt_replies: dict[str, str] = field(default_factory=dict)   # address -> reply
    max_recipients: int | None = None     # 452 beyond this many per transaction
    data_reply: str | None = None         # e.g. "552 5.3.4 Message too big"
    drop_after_data: bool = False         # close the connection instead of answering DATA
    data_delay: float = 0.0               # seconds before answering the final dot of DATA
    rcpt_delay: float = 0.0               # seconds before answering each RCPT TO
    hide_extensions: tuple[str, ...] = () # e.g. ("8BITMIME", "SMTPUTF8")
    pipelining: bool = False              # offer PIPELINING (aiosmtpd reads pipelined input anyway)
    data_replies: dict[str, str] = field(default_factory=dict)  # recipient -> reply to its final dot
    drop_for: set[str] = field(default_factory=set)   # recipients whose final dot drops the connection


class FaultyHandler:
    def __init__(self, faults: Faults):
        self.faults = faults
        self.received: list[Received] = []
        self.mail_from: list[str] = []   # every MAIL FROM seen, taken or not
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        hidden = tuple(f"250-{e}" for e in self.faults.hide_extensions)
        shown = [r for r in responses if not r.startswith(hidden)]
        return shown[:-1] + ["250-PIPELINING"] + shown[-1:] if self.faults.pipelining else shown

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            self.mail_from.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.faults.rcpt_delay:
            await asyncio.sleep(self.faults.rcpt_delay)
        if address in self.faults.rcpt_replies:
            return self.faults.rcpt_replies[address]
        limit = self.faults.max_recipients
        if limit is not None and len(envelope.rcpt_tos) >= limit:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.faults.data_delay:
            await asyncio.sleep(self.faults.data_delay)
        if self.faults.drop_after_data or self.faults.drop_for.intersection(envelope.rcpt_tos):
            server.transport.abort()
            return "421 dropped"  # never reaches the client: the connection is gone
        if self.faults.data_reply:
            return self.faults.data_reply
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.faults.data_replies:
                return self.faults.data_replies[rcpt]
        ssl_object = server.transport.get_extra_info("ssl_object")
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.content.replace(b"\r\n", b"\n"),
                                          tls=ssl_object.version() if ssl_object else None,
                                          login=session.auth_data))
        return "250 OK queued"


class FaultyServer:
    """An aiosmtpd server whose misbehaviour is set by `faults`; always stopped on exit.

    With `tls` (a server SSLContext) it offers STARTTLS, or speaks TLS at once with
    implicit_tls; other keywords go to aiosmtpd's SMTP (authenticator, auth_require_tls...).
    """

    def __init__(self, faults: Faults | None = None, port: int | None = None, *,
                 tls: ssl.SSLContext | None = None, implicit_tls: bool = False, **smtp_options):
        self.faults = faults or Faults()
        self.handler = FaultyHandler(self.faults)
        self.port = port or free_port()
        if tls is not None:
            smtp_options["ssl_context" if implicit_tls else "tls_context"] = tls
        self._smtp_options = smtp_options
        self.controller = self._controller()
        self.running = False

    def _controller(self) -> Controller:
        return Controller(self.handler, hostname="127.0.0.1", port=self.port,
                          enable_SMTPUTF8=True, ready_timeout=10, **self._smtp_options)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def mail_from(self) -> list[str]:
        with self.handler.lock:
            return list(self.handler.mail_from)

    def __enter__(self) -> FaultyServer:
        self.controller.start()
        self.running = True
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening (the smart host is down); what it received stays in `received`."""
        if self.running:
            self.running = False
            self.controller.stop()

    def start_again(self) -> None:
        """Listen again on the same port after stop(), as a restarted smart host does."""
        assert not self.running, "still running"
        self.controller = self._controller()   # a stopped Controller's event loop is closed
        self.controller.start()
        self.running = True


class _AcceptingServer:
    """A plain socket server on 127.0.0.1 whose thread hands each connection to handle();
    always stopped on exit."""

    name = "accepting-server"

    def __init__(self):
        self.port = free_port()
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                self.handle(conn)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


class BusyServer(_AcceptingServer):
    """Answers every connection with a 421 greeting and hangs up; counts the connections."""

    name = "busy-server"

    def __init__(self):
        super().__init__()
        self.connections = 0

    def handle(self, conn: socket.socket) -> None:
        self.connections += 1
        conn.sendall(b"421 4.3.2 Service not available, try later\r\n")


class TlsHandshakeServer(_AcceptingServer):
    """Speaks TLS from the first byte with `context` and stops after the handshake.

    A blocking handshake, unlike asyncio's, sends its alert (e.g. protocol_version) before closing,
    so the client sees what a real old server would say.
    """

    name = "tls-handshake-server"

    def __init__(self, context: ssl.SSLContext):
        super().__init__()
        self.context = context
        self.handshakes_failed = 0

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1


@dataclass
class Transaction:
    """One MAIL ... DATA exchange as the client sent it: DATA's bytes before the final "." line."""
    sender: str
    recipients: list[str]
    data: bytes
    next_sent_ahead: bool = False   # the next command had come with the final dot (pipelined)

    def lines(self) -> list[bytes]:
        """DATA's lines, dot-stuffing still in; asserts each ended CRLF with no CR or LF inside."""
        assert self.data.endswith(b"\r\n"), "DATA does not end with CRLF"
        lines = self.data[:-2].split(b"\r\n")
        assert not [line for line in lines if b"\r" in line or b"\n" in line], "a bare CR or LF"
        return lines

    def text(self) -> bytes:
        """The message as the server stores it: lines unstuffed, CRLF kept."""
        return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n"
                        for line in self.lines())


AHEAD_WAIT = 0.2   # how long the recording server waits after a final dot for a command sent ahead


class RecordingServer:
    """Just enough SMTP over a plain socket to record the client's bytes exactly.

    Offers 8BITMIME, PIPELINING and SMTPUTF8; reads DATA until CRLF "." CRLF, as a strict
    server does, and records every command line and transaction. One thread per connection,
    timeouts on every socket; always stopped on exit.
    """

    def __init__(self, idle_timeout: float = 30.0, wait_for_ahead: bool = False):
        self.port = free_port()
        self.idle_timeout = idle_timeout
        self.ahead_wait = AHEAD_WAIT if wait_for_ahead else 0.0   # after each final dot
        self.commands: list[bytes] = []
        self.transactions: list[Transaction] = []
        self.lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="recording-server")

    def received(self) -> list[Transaction]:
        with self.lock:
            return list(self.transactions)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._session, args=(conn,), name="recording-session")
            self._threads.append(thread)
            thread.start()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        reader = _Reader(conn, self._stop, self.idle_timeout)
        with conn:
            try:
                conn.sendall(b"220 recording ESMTP\r\n")
                self._converse(conn, reader)
            except (OSError, EOFError):
                pass

    def _converse(self, conn: socket.socket, reader: _Reader) -> None:
        sender, recipients = None, []
        while True:
            line = reader.until(b"\r\n")
            with self.lock:
                self.commands.append(line)
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-recording\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n")
            elif verb == b"MAIL":
                sender, recipients = _path(line), []
                conn.sendall(b"250 2.1.0 OK\r\n")
            elif verb == b"RCPT":
                recipients.append(_path(line))
                conn.sendall(b"250 2.1.5 OK\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 end with <CRLF>.<CRLF>\r\n")
                data = reader.data()
                ahead = reader.holds_a_line(self.ahead_wait)
                with self.lock:
                    self.transactions.append(Transaction(sender or "", recipients, data, ahead))
                sender, recipients = None, []
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb in (b"RSET", b"NOOP"):
                sender, recipients = (None, []) if verb == b"RSET" else (sender, recipients)
                conn.sendall(b"250 2.0.0 OK\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                conn.sendall(b"500 5.5.2 unknown command\r\n")

    def __enter__(self) -> RecordingServer:
        self._accepter.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._accepter.join(timeout=5)
        self._sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


class _Reader:
    """Buffered reads from one connection that give up when the server stops or the client idles."""

    def __init__(self, conn: socket.socket, stop: threading.Event, idle_timeout: float):
        self.conn, self.stop, self.idle_timeout = conn, stop, idle_timeout
        self.buffer = b""

    def until(self, end: bytes) -> bytes:
        """Bytes up to (not including) `end`, which is consumed."""
        while end not in self.buffer:
            self._fill()
        found, _, self.buffer = self.buffer.partition(end)
        return found

    def holds_a_line(self, wait: float) -> bool:
        """Is a whole line here, or does one come within `wait` seconds (without a reply)?"""
        deadline = time.monotonic() + wait
        while b"\r\n" not in self.buffer and time.monotonic() < deadline:
            try:
                chunk = self.conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            self.buffer += chunk
        return b"\r\n" in self.buffer

    def data(self) -> bytes:
        """DATA's bytes up to CRLF "." CRLF, keeping the last line's CRLF."""
        while not self.buffer.startswith(b".\r\n") and b"\r\n.\r\n" not in self.buffer:
            self._fill()
        if self.buffer.startswith(b".\r\n"):
            self.buffer = self.buffer[3:]
            return b""
        found, _, self.buffer = self.buffer.partition(b"\r\n.\r\n")
        return found + b"\r\n"

    def _fill(self) -> None:
        deadline = time.monotonic() + self.idle_timeout
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = self.conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise EOFError
            self.buffer += chunk
            return
        raise EOFError


def _path(command: bytes) -> str:
    """The address between < and > in MAIL FROM:<...> or RCPT TO:<...>."""
    return command.partition(b"<")[2].partition(b">")[0].decode("utf-8", "replace")
