"""Opening an SMTP session with a smart host: greeting, EHLO, TLS and AUTH, and what failures mean.

open_session() connects with [relay.smarthost] timeout, checks the 220 greeting, sends
EHLO, upgrades with STARTTLS when tls = "starttls" (a host that does not offer it
gets nothing in plaintext) or speaks TLS from the start when tls = "tls", and logs
in with AUTH PLAIN or LOGIN when a username is set. Every failure is a
TransactionFailed whose text names the cause in words a sysadmin acts on
(describe(), relay.smtp.tls.explain for handshakes). The helpers here (patience,
text, describe) are shared with the transaction in relay.smtp.client.
"""

from __future__ import annotations

import smtplib
import socket
import ssl

from relay.smtp.tls import PeerCertificate, explain, peer_certificate, server_name
from settings import SmartHostConfig
from settings.units import format_duration

HOSTNAME = socket.gethostname() or "localhost"


class TransactionFailed(Exception):
    """The session or the transaction broke off: the reply code (None: no reply) and why."""

    def __init__(self, code: int | None, text: str, *, connection_lost: bool = False,
                 unreachable: bool = False):
        super().__init__(text)
        self.code, self.text, self.connection_lost = code, text, connection_lost
        self.unreachable = unreachable


def open_session(c: SmartHostConfig, context: ssl.SSLContext | None, password: str | None,
                 ) -> tuple[smtplib.SMTP, PeerCertificate | None]:
    """Connect, read the greeting, EHLO, STARTTLS (or implicit TLS) and AUTH: a session ready for
    MAIL FROM, and the certificate TLS showed. Raises TransactionFailed saying why."""
    certificate = None
    if c.tls == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(local_hostname=HOSTNAME, timeout=c.timeout,
                                              context=context)
    else:
        smtp = smtplib.SMTP(local_hostname=HOSTNAME, timeout=c.timeout)
    # smtplib hands _host to the TLS handshake as the name to verify; only its
    # constructor sets it, and only when that constructor also connects.
    smtp._host = server_name(c)
    answered = False
    try:
        code, text = smtp.connect(c.host, c.port)
        answered = True
        if code != 220:
            raise TransactionFailed(code, f"greeting: {reply_text(text)}", connection_lost=True)
        expect(smtp.ehlo(), "EHLO")
        if c.tls == "starttls":
            if not smtp.has_extn("starttls"):
                raise TransactionFailed(None, f"STARTTLS not offered by {c.host}:{c.port}; "
                                         'nothing sent in plaintext ([relay.smarthost] tls = "starttls")')
            expect(smtp.starttls(context=context), "STARTTLS")
            expect(smtp.ehlo(), "EHLO")
        if isinstance(smtp.sock, ssl.SSLSocket):
            certificate = peer_certificate(smtp.sock)
        if password is not None:
            _login(smtp, c, password)
    except TransactionFailed:
        close_quietly(smtp)
        raise
    except ssl.SSLError as e:   # before OSError: it is one
        close_quietly(smtp)
        raise TransactionFailed(None, explain(e, c)) from None
    except (smtplib.SMTPException, OSError) as e:
        close_quietly(smtp)
        raise TransactionFailed(None, describe(e, c.host, c.port), unreachable=not answered) from None
    return smtp, certificate


def _login(smtp: smtplib.SMTP, c: SmartHostConfig, password: str) -> None:
    """AUTH PLAIN, else LOGIN; the password is dropped from the smtplib object at once."""
    offered = smtp.esmtp_features.get("auth", "").upper().split() if smtp.has_extn("auth") else []
    mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        what = f"offers AUTH {' '.join(offered)} but not PLAIN or LOGIN" if offered else \
            "does not offer AUTH" + (" after STARTTLS" if c.tls == "starttls" else "")
        raise TransactionFailed(None, f"cannot log in: {c.host}:{c.port} {what}")
    smtp.user, smtp.password = c.username, password
    try:
        smtp.auth(mechanism, getattr(smtp, f"auth_{mechanism.lower()}"))
    except smtplib.SMTPAuthenticationError as e:
        raise TransactionFailed(e.smtp_code, f"login refused by {c.host}:{c.port} (AUTH {mechanism} "
                                 f"as {c.username}): {reply_text(e.smtp_error)}") from None
    finally:
        smtp.password = ""

def expect(reply: tuple[int, bytes], step: str) -> None:
    """A 2xx reply to `step`, else TransactionFailed (the connection is given up)."""
    code, text = reply
    if not 200 <= code < 300:
        raise TransactionFailed(code, f"{step}: {reply_text(text)}", connection_lost=True)


def patience(smtp: smtplib.SMTP, seconds: float) -> None:
    """How long the next reads and writes may take. smtplib has one socket timeout; set per
    step, and on smtp.sock as it is now (STARTTLS replaced the plain socket)."""
    if smtp.sock is not None:
        smtp.sock.settimeout(seconds)


def timed_out(error: BaseException) -> bool:
    """smtplib turns a socket timeout into SMTPServerDisconnected; the timeout is its context."""
    return isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError)


def duration(seconds: float) -> str:
    return format_duration(seconds) if seconds >= 60 else f"{seconds:g}s"


def reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())


def describe(error: BaseException, host: str, port: int) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return f"timed out talking to {host}:{port}"
    if isinstance(error, ConnectionRefusedError):
        return f"connection to {host}:{port} refused"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {reply_text(error.smtp_error)}"
    return f"{host}:{port}: {error.strerror if isinstance(error, OSError) and error.strerror else error}"


def close_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        pass
