"""SMTP client towards the smart host: one reusable connection, per-recipient results.

An SmtpConnection sends one message at a time over a kept-open connection
(pipelining MAIL/RCPT/DATA when the server offers PIPELINING, and then the next
message's MAIL/RCPT/DATA behind this one's content when the caller names it: one
round trip a message; RSET after an aborted transaction, but never while a
transaction sent ahead is open; a fresh connection after MAX_MESSAGES or MAX_AGE).
Every network step has a timeout, as RFC 5321 4.5.3.2 sets them: `timeout`
for connecting, the greeting, EHLO, STARTTLS, AUTH and QUIT; `command_timeout`
for each reply to MAIL, RCPT and DATA and for sending the content;
`data_timeout` for the reply to the final dot, which a host may send long after
it stored the message. No reply to the final dot is a deferral whose reason
says the message "may have been delivered" (a retry may bring a second copy).
relay.smtp.replies' classify() is the one place that maps a reply or a failure
to an Outcome; deliver() never raises for anything the server or the network
does: it returns a DeliveryResult. Setting up a connection (relay.smtp.session:
greeting, EHLO, STARTTLS or implicit TLS, AUTH PLAIN or LOGIN) fails as a
deferral whose reason names the cause, with host_unavailable set.
Uses [relay.smarthost] (or one [[relay.smarthosts]] table) host, port, tls,
username, timeout, command_timeout, data_timeout; relay.smtp.tls for the TLS context and
relay.smtp.credentials for the password.
"""

from __future__ import annotations

import dataclasses
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass

from relay.smtp.credentials import CredentialsError, smarthost_password
from relay.smtp.replies import DeliveryResult, Outcome, RecipientReply, classify
from relay.smtp.session import (
    TransactionFailed,
    describe,
    duration,
    open_session,
    patience,
    reply_text,
    timed_out,
)
from relay.smtp.tls import PeerCertificate, TlsSetupError, client_context
from settings import SmartHostConfig
from spooler.envelope import ParsedMessage

MAX_MESSAGES = 1000      # per connection, then reconnect
MAX_AGE = 300.0          # seconds a connection is reused (as Postfix's smtp_connection_reuse_time_limit)
AHEAD_MARGIN = 30.0      # no message sent ahead on a connection this close to MAX_AGE
_FINAL_DOT = "waiting for the reply to the final dot"


@dataclass(frozen=True)
class HostCheck:
    """What a probe of the smart host found (`relay status`, `relay check`)."""
    ok: bool
    detail: str                  # what the host answered, or why the probe failed
    unreachable: bool = False    # no SMTP answer at all (refused, timed out), not a later refusal
    certificate: PeerCertificate | None = None


class SmtpConnection:
    """One connection to the smart host, opened on first use and reused."""

    def __init__(self, config: SmartHostConfig):
        self.config = config
        self.smtp: smtplib.SMTP | None = None
        self.sent_on_connection = 0
        self.opened_at = 0.0
        self._content_sent = False
        # (message, recipients) whose MAIL/RCPT/DATA went out behind the last message's final
        # dot, their replies unread: the next deliver() of that message reads them
        self._sent_ahead: tuple[ParsedMessage, tuple[str, ...]] | None = None
        self._tls_context: ssl.SSLContext | None = None
        self.certificate: PeerCertificate | None = None   # what the last TLS handshake showed

    @property
    def pipelines(self) -> bool:
        """Open, and the server offered PIPELINING: a next message can go out behind this one."""
        return self.smtp is not None and self.smtp.does_esmtp and self.smtp.has_extn("pipelining")

    def deliver(self, message: ParsedMessage, recipients: list[str] | None = None,
                ahead: tuple[ParsedMessage, list[str]] | None = None) -> DeliveryResult:
        """Send `message` to `recipients` (default: its envelope's); never raises for SMTP trouble.

        `ahead`: the message (and recipients) this connection sends next. Its MAIL, RCPT and
        DATA go out with this one's content when the server pipelines (RFC 2920 lets the
        content lead a group), saving it a round trip; its deliver() then reads their replies."""
        rcpts = list(recipients or message.recipients)
        start = time.monotonic()
        result = DeliveryResult()
        sent_ahead = self._take_sent_ahead(message, rcpts)
        # A kept connection the server has since dropped fails on its first command;
        # that is no news about the message, so it gets one fresh connection.
        for fresh in ((False, True) if self.smtp is not None else (True,)):
            try:
                smtp = self._connection()
            except TransactionFailed as e:
                self.close()
                result.host_unavailable = True
                result.replies = [RecipientReply(r, e.code, e.text, setup=True) for r in rcpts]
                break
            self._content_sent = False
            try:
                result.replies = self._transaction(smtp, message, rcpts, sent_ahead, ahead)
                break
            except TransactionFailed as e:
                if e.connection_lost:
                    self.close()
                result.replies = [RecipientReply(r, e.code, e.text) for r in rcpts]
                if fresh or not e.connection_lost or self._content_sent:
                    break
            sent_ahead = False   # a fresh connection starts at MAIL FROM
        result.duration = time.monotonic() - start
        return result

    def _take_sent_ahead(self, message: ParsedMessage, rcpts: list[str]) -> bool:
        """Were this message's commands sent ahead on the open connection? A connection with
        another message's commands in flight (its DATA perhaps already answered 354) is
        dropped, never reused: whatever came next would become that message's content."""
        pending, self._sent_ahead = self._sent_ahead, None
        if pending is None:
            return False
        if pending[0] is message and pending[1] == tuple(rcpts) and self.smtp is not None \
                and not self._worn_out():
            return True
        self._drop()
        return False

    def abort(self) -> None:
        """Cut the connection from another thread (a stop that cannot wait any longer)."""
        smtp = self.smtp
        if smtp is not None and smtp.sock is not None:
            try:
                smtp.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        if self._sent_ahead is not None:   # a QUIT now could be read as a message's content
            self._drop()
            return
        if self.smtp is not None:
            try:
                patience(self.smtp, self.config.timeout)   # not the 10 minutes of a final dot
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self._drop()

    def _drop(self) -> None:
        """Close the socket without a word: a transaction left open is abandoned (RFC 5321:
        a server discards mail whose final dot never came)."""
        self._sent_ahead = None
        if self.smtp is not None:
            try:
                self.smtp.close()
            except OSError:
                pass
        self.smtp = None

    @classmethod
    def check(cls, config: SmartHostConfig, max_timeout: float) -> HostCheck:
        """Probe the smart host with a shorter timeout than deliveries use (status, check)."""
        return cls(dataclasses.replace(config, timeout=min(config.timeout, max_timeout))).probe()

    def probe(self) -> HostCheck:
        """Connect and EHLO (and STARTTLS/AUTH when configured), then NOOP: what was seen."""
        try:
            smtp = self._connection()
            code, said = smtp.noop()
            return HostCheck(True, f"{self.config.host}:{self.config.port} answered {code} "
                                   f"{reply_text(said)}", certificate=self.certificate)
        except TransactionFailed as e:   # TLS may have worked before AUTH failed: keep what it showed
            return HostCheck(False, e.text, unreachable=e.unreachable, certificate=self.certificate)
        except (smtplib.SMTPException, OSError) as e:   # the NOOP
            return HostCheck(False, describe(e, self.config.host, self.config.port),
                             certificate=self.certificate)
        finally:
            self.close()

    # -- the protocol ---------------------------------------------------------------------

    def _worn_out(self, after: int = 0) -> bool:
        """Has the connection carried enough messages (or lived long enough) to be replaced?"""
        return (self.sent_on_connection + after >= MAX_MESSAGES
                or time.monotonic() - self.opened_at > MAX_AGE - AHEAD_MARGIN * after)

    def _connection(self) -> smtplib.SMTP:
        if self.smtp is not None and self._worn_out():
            self.close()
        if self.smtp is None:
            # The password and the TLS context both before connecting: a fault there is ours.
            self.smtp, self.certificate = open_session(self.config, self._context(), self._password())
            self.sent_on_connection = 0
            self.opened_at = time.monotonic()
        return self.smtp

    def _password(self) -> str | None:
        """The AUTH password, or None when no AUTH is configured."""
        c = self.config
        if not c.username:
            return None
        try:
            return smarthost_password(c)
        except CredentialsError as e:
            raise TransactionFailed(None, str(e)) from None

    def _context(self) -> ssl.SSLContext | None:
        if self.config.tls == "none":
            return None
        if self._tls_context is None:
            try:
                self._tls_context = client_context(self.config)
            except TlsSetupError as e:
                raise TransactionFailed(None, str(e)) from None
        return self._tls_context

    def _transaction(self, smtp: smtplib.SMTP, message: ParsedMessage, rcpts: list[str],
                     sent_ahead: bool = False, ahead: tuple[ParsedMessage, list[str]] | None = None,
                     ) -> list[RecipientReply]:
        c = self.config
        options = "" if sent_ahead else self._mail_options(smtp, message)
        commands = [f"MAIL FROM:<{message.sender}>{options}"] + [f"RCPT TO:<{r}>" for r in rcpts]
        step = "waiting for the reply to MAIL FROM"
        try:
            patience(smtp, c.command_timeout)
            if sent_ahead or (smtp.does_esmtp and smtp.has_extn("pipelining")):
                if not sent_ahead:
                    smtp.send(_command_group(commands))
                mail_reply = smtp.getreply()
                step = "waiting for the reply to RCPT TO"
                rcpt_replies = [smtp.getreply() for _ in rcpts]
                step = "waiting for the reply to DATA"
                data_reply = smtp.getreply()
            else:
                mail_reply = _command(smtp, commands[0])
                rcpt_replies = []
                step = "waiting for the reply to RCPT TO"
                if classify(mail_reply[0]) is Outcome.SENT:
                    rcpt_replies = [_command(smtp, c) for c in commands[1:]]
                accepted_any = any(classify(code) is Outcome.SENT for code, _ in rcpt_replies)
                step = "waiting for the reply to DATA"
                data_reply = _command(smtp, "DATA") if accepted_any else (0, b"")
            if classify(mail_reply[0]) is not Outcome.SENT:
                self._abort(smtp, data_reply)
                raise TransactionFailed(mail_reply[0], f"MAIL FROM: {reply_text(mail_reply[1])}")
            replies = [RecipientReply(r, code, reply_text(text))
                       for r, (code, text) in zip(rcpts, rcpt_replies, strict=True)]
            accepted = [r for r in replies if r.outcome is Outcome.SENT]
            if not accepted:
                self._abort(smtp, data_reply)
                return replies
            if data_reply[0] != 354:
                self._abort(smtp, data_reply)
                raise TransactionFailed(data_reply[0], f"DATA: {reply_text(data_reply[1])}")
            self._content_sent = True
            step = "sending the message"
            group = self._next_group(smtp, ahead) if ahead is not None else None
            smtp.send(_dot_stuffed(message.content) + (group or b""))
            if group:
                self._sent_ahead = (ahead[0], tuple(ahead[1]))
            # A host may store the message and answer the final dot minutes later (RFC 5321
            # 4.5.3.2 allows 10): giving up sooner is what sends a message twice.
            step = _FINAL_DOT
            patience(smtp, c.data_timeout)
            code, text = smtp.getreply()
        except (OSError, smtplib.SMTPException) as e:
            raise TransactionFailed(None, self._lost(e, step), connection_lost=True) from None
        self.sent_on_connection += 1
        if code == 421:
            self.close()
        elif classify(code) is not Outcome.SENT and self._sent_ahead is None:
            # With the next transaction already sent, no RSET: the reply to the final dot
            # ended this one (RFC 5321 4.1.1.4), and an RSET would land in the next one's DATA.
            self._abort(smtp, (code, text))
        for r in accepted:
            r.code, r.text = code, reply_text(text)
        return replies

    def _lost(self, error: BaseException, step: str) -> str:
        """Why a transaction broke off during `step`; after the final dot, that it may have gone."""
        c = self.config
        if timed_out(error):
            waited = c.data_timeout if step == _FINAL_DOT else c.command_timeout
            why = f"timed out after {duration(waited)} {step}"
        elif isinstance(error, smtplib.SMTPServerDisconnected):
            why = f"connection lost {step} ({error})" if step == _FINAL_DOT else f"connection lost: {error}"
        else:
            why = describe(error, c.host, c.port)
        return f"{why}: may have been delivered" if step == _FINAL_DOT else why

    def _next_group(self, smtp: smtplib.SMTP, ahead: tuple[ParsedMessage, list[str]]) -> bytes | None:
        """The next message's MAIL, RCPT and DATA, to send behind this one's final dot; None
        when the server does not pipeline, the connection is to be replaced after this
        message, or the next message cannot go over it (it then fails on its own turn)."""
        if not (smtp.does_esmtp and smtp.has_extn("pipelining")) or self._worn_out(after=1):
            return None
        message, rcpts = ahead
        try:
            options = self._mail_options(smtp, message)
        except TransactionFailed:
            return None
        return _command_group([f"MAIL FROM:<{message.sender}>{options}"]
                              + [f"RCPT TO:<{r}>" for r in rcpts])

    def _mail_options(self, smtp: smtplib.SMTP, message: ParsedMessage) -> str:
        options = f" SIZE={len(message.content)}" if smtp.has_extn("size") else ""
        if message.needs_8bitmime:
            if not smtp.has_extn("8bitmime"):
                raise TransactionFailed(
                    554, "message has 8-bit content and the smart host does not offer 8BITMIME")
            options += " BODY=8BITMIME"
        if message.needs_smtputf8:
            if not smtp.has_extn("smtputf8"):
                raise TransactionFailed(
                    553, "an address is not ASCII and the smart host does not offer SMTPUTF8")
            options += " SMTPUTF8"
        return options

    def _abort(self, smtp: smtplib.SMTP, data_reply: tuple[int, bytes]) -> None:
        """End a transaction that will not send content, leaving the connection reusable."""
        try:
            patience(smtp, self.config.command_timeout)
            if data_reply[0] == 354:  # a server that said go ahead anyway: give it an empty message
                smtp.send(b".\r\n")
                smtp.getreply()
            if smtp.rset()[0] == 250:
                return
        except (smtplib.SMTPException, OSError):
            pass
        self.close()


def _command_group(commands: list[str]) -> bytes:
    """MAIL and RCPT lines, and DATA last, as one pipelined group (RFC 2920)."""
    return "".join(c + "\r\n" for c in commands).encode() + b"DATA\r\n"


def _command(smtp: smtplib.SMTP, line: str) -> tuple[int, bytes]:
    smtp.putcmd(line)
    return smtp.getreply()


def _dot_stuffed(content: bytes) -> bytes:
    """DATA's bytes. Sound only because parse_pickup made every line end CRLF first:
    with a bare CR or LF left in, a lenient server could see a "." line this misses."""
    # bytes.replace, not a regex: the same lines (every line starts after a "\n"), 10x faster
    data = content.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


