"""`relay check`'s inbound part, when [inbound] domains is set: the drop folder (there, writable
by this user, closed to others) and the listening address (`relay receive` answers there, or
it is free to be taken: a port under 1024 needs CAP_NET_BIND_SERVICE), and the STARTTLS
certificate and key (readable, a pair).

Reads [inbound] dir, listen, tls_cert, tls_key. Test-writes the drop folder (a hidden file,
removed at once), binds the address for a moment or reads the server's greeting (then QUIT),
each with a timeout. Creates nothing else.
"""

from __future__ import annotations

import socket
import ssl
import stat

from relay.admin.check import writable_folder
from relay.sink.server import refuse_taken_port, server_context
from settings import Config, InboundConfig
from settings.checks import CheckResult
from settings.units import parse_listen

PROBE_TIMEOUT = 5.0   # seconds to connect to, and to hear the greeting of, `relay receive`
UNIT = "contrib/pickup-relay-receive.service"


def inbound_checks(config: Config) -> list[CheckResult]:
    inbound = config.inbound
    if not inbound.domains:
        return [CheckResult("inbound", True, "off ([inbound] domains is empty)")]
    results = [writable_folder("drop folder", inbound.dir, "[inbound] dir")]
    try:
        mode = stat.S_IMODE(inbound.dir.stat().st_mode)
    except OSError:
        mode = None
    if mode is not None and mode & 0o007:
        results.append(CheckResult("drop folder modes", False, f"{inbound.dir} is mode {mode:04o}: "
                                   "others may read the mail that comes back (members' replies)",
                                   f"chmod o-rwx {inbound.dir}"))
    if inbound.tls_cert:
        results.append(_certificate(inbound))
    results.append(listen_check(inbound))
    return results


def listen_check(inbound: InboundConfig) -> CheckResult:
    """`relay receive` answers on [inbound] listen, or the address is free for it."""
    host, port = parse_listen(inbound.listen)
    name = f"inbound listen {inbound.listen}"
    greeting = _greeting(host, port)
    if greeting is not None:
        if greeting.startswith("220"):
            return CheckResult(name, True, f"answers: {greeting[:120]}")
        return CheckResult(name, False, f"something else answers there: {greeting[:120]!r}",
                           "stop it, or set [inbound] listen to a free port")
    try:
        refuse_taken_port(host, port)
    except PermissionError:
        return CheckResult(name, False, f"this user may not listen on port {port}",
                           f"run `relay receive` from {UNIT} (AmbientCapabilities="
                           "CAP_NET_BIND_SERVICE), or listen on a port over 1023")
    except OSError as e:
        return CheckResult(name, False, f"cannot listen there: {e.strerror or e}",
                           "set [inbound] listen to an address of this host and a free port")
    return CheckResult(name, True, "free: `relay receive` is not running; it can listen there")


def _greeting(host: str, port: int) -> str | None:
    """The first line a server on host:port says, or None when nothing takes the connection."""
    target = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=PROBE_TIMEOUT) as conn:
            conn.settimeout(PROBE_TIMEOUT)
            try:
                line = conn.recv(512).split(b"\r\n", 1)[0].decode("ascii", "replace")
                conn.sendall(b"QUIT\r\n")
            except OSError:
                return ""
            return line
    except OSError:
        return None


def _certificate(inbound: InboundConfig) -> CheckResult:
    try:
        server_context(inbound.tls_cert, inbound.tls_key)
    except (OSError, ssl.SSLError) as e:
        return CheckResult("inbound STARTTLS", False, f"cannot use {inbound.tls_cert} with "
                           f"{inbound.tls_key}: {e}", "give [inbound] tls_cert and tls_key a PEM "
                           "certificate chain and its key, readable by the relay's user")
    return CheckResult("inbound STARTTLS", True, f"offered with {inbound.tls_cert}")
