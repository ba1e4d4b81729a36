"""`relay receive`: the inbound SMTP server (aiosmtpd) that takes mail for [inbound] domains
and stores each message in the drop folder before it answers 250.

An MX for the site's domains, never a relay: RCPT TO is taken only for an address at one of
`domains` (relay.inbound.policy), anything else is 550 5.7.1 "relay not permitted". Replies:
  421 4.7.0  at connect: over [inbound] connections (all clients) or client_connections (one
             address); the connection is closed at once
  450 4.7.1  MAIL FROM over client_message_rate for this client address
  553 5.1.7  MAIL FROM that the drop file cannot hold (not a plain address)
  552        SIZE= over max_message_size (at MAIL FROM, from EHLO's SIZE), or DATA over it
  550 5.7.1 / 553 5.1.3  RCPT TO not ours / not a plain address
  452 4.5.3  RCPT TO past max_recipients
  554 5.6.0  content the site could not read (a NUL byte, no header block, cut-short MIME)
  451 4.3.0  the drop folder cannot be written now (full disk, missing folder): nothing is
             left of the message and the sender tries again; the log line says what to fix
  250 2.0.0  "stored as ID": only after the file and its folder were fsynced (store.py)
STARTTLS is offered when tls_cert and tls_key are set (never required: RFC 3207 forbids a
public MX to). A client silent for `timeout` is cut off; AUTH is never offered.

Reads [inbound] (passed in as settings.InboundConfig). Writes the drop folder, through a
small pool of threads (an fsync must not stop the event loop), and one log line per message
(logger relay.inbound). Trusts nothing the client sends: names in the Received: line are
sanitized (relay.inbound.trace), content is stored as received.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from relay.inbound.limits import ClientLimits
from relay.inbound.policy import recipient_refusal, sender_refusal
from relay.inbound.store import DropFolder, DropFolderError, MessageRefused
from relay.inbound.trace import SOFTWARE, smtp_received, this_host
from relay.sink.server import refuse_taken_port, server_context
from settings import InboundConfig, parse_rate
from settings.units import parse_listen

log = logging.getLogger("relay.inbound")

STORE_THREADS = 8          # messages being written and fsynced at once
READY_TIMEOUT = 10.0       # seconds the server may take to start listening
# Commands that carry no mail, per connection; everything else is bounded by the rate limit.
COMMAND_LIMITS = {"NOOP": 100, "VRFY": 20, "EXPN": 20, "HELP": 20, "*": 1_000_000}


class InboundHandler:
    """aiosmtpd handler: the checks at MAIL and RCPT, and the durable write at DATA."""

    def __init__(self, config: InboundConfig, drop: DropFolder, limits: ClientLimits,
                 hostname: str, pool: ThreadPoolExecutor):
        self.domains = frozenset(config.domains)
        self.max_recipients = config.max_recipients
        self.drop, self.limits, self.hostname, self.pool = drop, limits, hostname, pool

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [r for r in responses if not r.startswith("250-AUTH")]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        over = self.limits.take_message(session.peer[0], time.monotonic())
        if over is not None:
            log.info("client %s over its message rate (%s): 450", session.peer[0], over)
            return f"450 4.7.1 too many messages ({over}): try again later"
        sender = "" if address == "<>" else address
        refusal = sender_refusal(sender)
        if refusal is not None:
            return refusal.reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = recipient_refusal(address, self.domains)
        if refusal is not None:
            log.info("client %s: refused RCPT TO:<%s>: %s", session.peer[0], address, refusal.reply)
            return refusal.reply
        if address in envelope.rcpt_tos:
            return "250 2.1.5 OK"
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return f"452 4.5.3 too many recipients: at most {self.max_recipients} a message"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        sender = "" if envelope.mail_from == "<>" else envelope.mail_from
        recipients = list(envelope.rcpt_tos)
        queue_id = self.drop.new_id()
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        trace = smtp_received(self.hostname, queue_id, helo=session.host_name,
                              client_ip=session.peer[0], esmtp=session.extended_smtp,
                              tls_version=ssl_object.version() if ssl_object else None,
                              recipients=recipients, now=time.time())
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.pool, self.drop.store, queue_id, sender, recipients,
                                       trace, envelope.content)
        except MessageRefused as e:
            log.info("client %s: refused a message from <%s>: %s", session.peer[0], sender, e)
            return e.refusal.reply
        except DropFolderError as e:
            log.error("cannot store a message from <%s> (client %s): %s; the sender was told to "
                      "try again later", sender, session.peer[0], e)
            return "451 4.3.0 cannot store the message now: try again later"
        log.info("stored %s from=<%s> to=<%s> size=%d client=%s", queue_id, sender,
                 ",".join(recipients), len(envelope.content), session.peer[0])
        return f"250 2.0.0 OK stored as {queue_id}"


class LimitedSMTP(SMTP):
    """aiosmtpd's SMTP that counts its connection in ClientLimits and, when one is too many,
    answers 421 and closes before the greeting."""

    def __init__(self, handler, *, limits: ClientLimits, **options):
        super().__init__(handler, **options)
        self.limits = limits
        self._client: str | None = None     # the counted client address, until the connection ends
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:   # a new connection, not the TLS layer after STARTTLS
            client = str(transport.get_extra_info("peername")[0])
            over = self.limits.connect(client)
            if over is not None:
                self._refused = True
                log.info("client %s refused at connect: over %s", client, over)
                transport.write(f"421 4.7.0 {self.hostname} too many connections ({over}): "
                                "try again later\r\n".encode())
                transport.close()
                return
            self._client = client
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return   # aiosmtpd never saw this connection
        if self._client is not None:
            self.limits.disconnect(self._client)
            self._client = None
        super().connection_lost(error)


class InboundController(Controller):
    """aiosmtpd's threaded controller, making LimitedSMTP servers that share one ClientLimits."""

    def __init__(self, handler, limits: ClientLimits, **options):
        super().__init__(handler, **options)
        self.limits = limits

    def factory(self) -> SMTP:
        return LimitedSMTP(self.handler, limits=self.limits, **self.SMTP_kwargs)


class InboundServer:
    """`relay receive`'s server, running in a thread; a context manager that always stops
    what it started (the server, then the writing threads, letting writes in flight end)."""

    def __init__(self, config: InboundConfig, *, durable: bool = True):
        self.host, self.port = parse_listen(config.listen)
        self.hostname = this_host(config.hostname)
        self.drop = DropFolder(config.dir, durable=durable)
        rate = parse_rate(config.client_message_rate) if config.client_message_rate else None
        self.limits = ClientLimits(config.connections, config.client_connections, rate)
        self.tls = server_context(config.tls_cert, config.tls_key) if config.tls_cert else None
        self.pool = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="drop-store")
        handler = InboundHandler(config, self.drop, self.limits, self.hostname, self.pool)
        self.controller = InboundController(
            handler, self.limits, hostname=self.host, port=self.port,
            server_hostname=self.hostname, ident=f"ESMTP {SOFTWARE}", ready_timeout=READY_TIMEOUT,
            data_size_limit=config.max_message_size, enable_SMTPUTF8=True,
            tls_context=self.tls, require_starttls=False, timeout=config.timeout,
            command_call_limit=COMMAND_LIMITS)

    def start(self) -> InboundServer:
        """Listen; OSError when the address cannot be bound (taken, not this host's), after
        letting go of everything this server made."""
        if not os.path.isdir(self.drop.dir):
            log.warning("drop folder %s does not exist: every message will get 451 until it "
                        "does", self.drop.dir)
        try:
            refuse_taken_port(self.host, self.port)
            self.controller.start()
        except BaseException:
            self._let_go()
            raise
        return self

    def stop(self) -> None:
        try:
            self.controller.stop()
        finally:
            self.pool.shutdown(wait=True)

    def _let_go(self) -> None:
        """Stop whatever of the server started, and close its event loop."""
        self.pool.shutdown(wait=True)
        try:
            self.controller.stop(no_assert=True)
        except (AssertionError, RuntimeError, OSError):
            pass   # it never started
        if not self.controller.loop.is_closed():
            self.controller.loop.close()

    def __enter__(self) -> InboundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
