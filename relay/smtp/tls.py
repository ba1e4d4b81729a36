"""TLS towards the smart host: the client context, what a failed handshake means, the certificate seen.

client_context() builds the context for [relay.smarthost] tls = "starttls" and
tls = "tls": TLS 1.2 or later, the server's certificate verified against ca_file
(a PEM bundle trusted instead of the system store) or else the system store,
and its name checked against server_name(): tls_name, else host. verify = false
turns both checks off; weak_settings() names that, and AUTH allowed over a
plaintext connection, so the daemon warns at every start and `relay check` too.
explain() turns a failed handshake into a reason a person can act on (untrusted
issuer, wrong name, expired, protocol version); peer_certificate() reads the
negotiated protocol, the subject and the days to expiry for `relay check`.
Reads ca_file when a context is built; writes nothing; trusts only what OpenSSL
verified. Uses [relay.smarthost] tls, ca_file, tls_name, verify, username and
allow_plaintext_auth. Raises TlsSetupError when ca_file cannot be used.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

from settings import SmartHostConfig

EXPIRY_WARNING_DAYS = 14   # `relay check` warns when the certificate expires sooner

# OpenSSL verify codes (X509_V_ERR_*) and what they mean for the person reading the reason.
_UNTRUSTED = "certificate issuer not trusted"
_VERIFY_CAUSES = {
    2: _UNTRUSTED, 18: _UNTRUSTED, 19: _UNTRUSTED, 20: _UNTRUSTED, 21: _UNTRUSTED,
    9: "certificate not yet valid", 10: "certificate expired", 23: "certificate revoked",
    62: "certificate name does not match", 64: "certificate name does not match",
}
_VERIFY_FIXES = {
    _UNTRUSTED: "set [relay.smarthost] ca_file to the CA that issued it",
    "certificate name does not match": "set [relay.smarthost] host or tls_name to a name it carries",
}
_PROTOCOL_REASONS = {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE",
                     "WRONG_SSL_VERSION", "VERSION_TOO_LOW", "TLSV1_ALERT_INSUFFICIENT_SECURITY"}


class TlsSetupError(Exception):
    """The TLS settings cannot be used (an unreadable ca_file); the message says what to fix."""


def server_name(config: SmartHostConfig) -> str:
    """The name the smart host's certificate must carry."""
    return config.tls_name or config.host


def client_context(config: SmartHostConfig) -> ssl.SSLContext:
    """The SSLContext for connections to the smart host."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # verifies and checks the name by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not config.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if config.ca_file is None:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        return context
    try:
        context.load_verify_locations(cafile=config.ca_file)
    except OSError as e:
        raise TlsSetupError(f"[relay.smarthost] ca_file {config.ca_file}: cannot read: "
                            f"{e.strerror or e}") from None
    except ssl.SSLError:
        raise TlsSetupError(f"[relay.smarthost] ca_file {config.ca_file}: "
                            "holds no PEM certificate") from None
    return context


def weak_settings(config: SmartHostConfig) -> list[str]:
    """Choices in the config that weaken the connection to the smart host, one sentence each."""
    weak = []
    if config.tls != "none" and not config.verify:
        weak.append("[relay.smarthost] verify = false: the smart host's certificate is not "
                    "checked, anyone on the path can pose as it")
    if config.tls == "none" and config.username and config.allow_plaintext_auth:
        weak.append("[relay.smarthost] allow_plaintext_auth = true with tls = \"none\": "
                    "the password goes over the network in clear")
    return weak


def explain(error: ssl.SSLError, config: SmartHostConfig) -> str:
    """A failed handshake as a reason: the cause first, then OpenSSL's words and the fix."""
    where = f"{config.host}:{config.port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        cause = _VERIFY_CAUSES.get(error.verify_code, "certificate not accepted")
        detail = error.verify_message
        if cause == "certificate name does not match":
            detail = f"it is not valid for {server_name(config)!r}"
        fix = _VERIFY_FIXES.get(cause, "")
        return f"TLS: {cause} ({detail}) at {where}" + (f"; {fix}" if fix else "")
    reason = getattr(error, "reason", None) or ""
    if reason in _PROTOCOL_REASONS:
        return f"TLS: no protocol version in common (TLS 1.2 or later) with {where} ({reason.lower()})"
    if reason == "WRONG_VERSION_NUMBER":
        return f"TLS: {where} did not answer in TLS (is tls = \"tls\" right for this port?)"
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError) or "EOF" in reason:
        return f"TLS: {where} closed the connection during the handshake"
    return f"TLS: handshake with {where} failed ({(reason or str(error)).lower()})"


@dataclass(frozen=True)
class PeerCertificate:
    """What `relay check` reports about the smart host's TLS."""
    protocol: str
    cipher: str
    subject: str              # "" when verify = false (the certificate was not read)
    issuer: str
    days_left: int | None     # None when verify = false

    @property
    def expires_soon(self) -> bool:
        return self.days_left is not None and self.days_left < EXPIRY_WARNING_DAYS

    def __str__(self) -> str:
        if self.days_left is None:
            return f"{self.protocol} ({self.cipher}), certificate not verified (verify = false)"
        return (f"{self.protocol} ({self.cipher}), certificate {self.subject} issued by {self.issuer}, "
                f"expires in {self.days_left} day{'s' if self.days_left != 1 else ''}")


def peer_certificate(sock: ssl.SSLSocket, now: float | None = None) -> PeerCertificate:
    """Read the negotiated protocol and the verified certificate of a TLS connection."""
    cipher = sock.cipher()
    cert = sock.getpeercert() or {}   # empty when nothing was verified
    days = None
    if "notAfter" in cert:
        now = time.time() if now is None else now
        days = int((ssl.cert_time_to_seconds(cert["notAfter"]) - now) // 86400)
    names = ", ".join(v for kind, v in cert.get("subjectAltName", ()) if kind in ("DNS", "IP Address"))
    subject = _name(cert.get("subject", ()))
    if names:
        subject = f"{subject} ({names})" if subject else names
    return PeerCertificate(protocol=sock.version() or "?", cipher=cipher[0] if cipher else "?",
                           subject=subject, issuer=_name(cert.get("issuer", ())), days_left=days)


_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
          "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}


def _name(rdns: tuple) -> str:
    return ", ".join(f"{_SHORT.get(k, k)}={v}" for rdn in rdns for k, v in rdn)
