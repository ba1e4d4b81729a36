"""The configuration's tables as typed, frozen dataclasses: [pickup], [relay] (and its smart
hosts and DKIM keys), [inbound], [sink], [webapp]; each field's metadata says how its TOML value
is read.

A table is one dataclass here and one line in settings.loader's `sections`; validation that
needs more than a field's kind (a DKIM domain, a selector) lives beside the table it checks.
ConfigError is the one error a person meets: it names the file, the table and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spooler.envelope import UnsafeHeaderError, check_address


class ConfigError(Exception):
    """A configuration problem a person must fix; the message says where and what."""


# Each field's metadata names how a TOML value becomes the typed one.
def _key(kind: str, default: Any, **extra: Any) -> Any:
    if isinstance(default, list | tuple):
        return field(default_factory=lambda: tuple(default), metadata={"kind": kind, **extra})
    return field(default=default, metadata={"kind": kind, **extra})


@dataclass(frozen=True)
class PickupConfig:
    dir: Path = _key("path", "pickup")


@dataclass(frozen=True)
class SmartHostConfig:
    host: str = _key("str", "127.0.0.1")
    port: int = _key("port", 2525)
    tls: str = _key("choice", "none", choices=("none", "starttls", "tls"))
    username: str = _key("str", "")
    password_env: str = _key("str", "")
    password_file: Path | None = _key("optional_path", "")   # mode checked: owner only
    allow_plaintext_auth: bool = _key("bool", False)          # AUTH without TLS: only by choice
    ca_file: Path | None = _key("optional_path", "")         # trusted instead of the system store
    tls_name: str = _key("str", "")                          # name to verify instead of host
    verify: bool = _key("bool", True)
    rate_limit: str = _key("rate", "")
    timeout: float = _key("timeout", "30s")            # connect, greeting, EHLO, STARTTLS, AUTH, QUIT
    command_timeout: float = _key("timeout", "5m")     # each reply to MAIL, RCPT, DATA; sending the content
    data_timeout: float = _key("timeout", "10m")       # the reply to the final dot (RFC 5321 4.5.3.2)
    # [[relay.smarthosts]]: hosts with a weight share the mail in proportion; 0 = tried in order
    weight: int = _key("weight", 0)

    @property
    def label(self) -> str:
        """host:port, as logs, status and metrics name the host."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def conflicts(self) -> list[tuple[str, str]]:
        """(key, problem) for keys that contradict each other."""
        if self.password_env and self.password_file:
            return [("password_file", "set password_env or password_file, not both")]
        return []


# Signed when present: what RFC 6376 5.4.1 suggests, plus List-Unsubscribe-Post (Gmail's
# one-click unsubscribe counts only when DKIM covers both List-Unsubscribe headers).
DKIM_HEADERS = ("from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
                "mime-version", "content-type", "content-transfer-encoding", "in-reply-to",
                "references", "list-id", "list-unsubscribe", "list-unsubscribe-post")
# Headers a relay on the way adds or changes: a signature over them breaks (dkimpy refuses them too).
DKIM_UNSIGNABLE = ("return-path", "received", "comments", "keywords", "bcc", "resent-bcc",
                   "dkim-signature")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_SELECTOR = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
                       re.IGNORECASE)
_FIELD_NAME = re.compile(r"^[!-9;-~]+$")


@dataclass(frozen=True)
class DkimConfig:
    """One signing identity: mail whose From is at `domain` (or below it) is signed with this key."""
    domain: str = _key("str", "")
    selector: str = _key("str", "")
    key_file: Path | None = _key("optional_path", "")      # mode checked: owner only
    algorithm: str = _key("choice", "rsa-sha256", choices=("rsa-sha256", "ed25519-sha256"))
    headers: tuple[str, ...] = _key("names", list(DKIM_HEADERS))

    def conflicts(self) -> list[tuple[str, str]]:
        problems = []
        for key, example in (("domain", "example.org"), ("selector", "mail"),
                             ("key_file", "/etc/pickup-relay/dkim.key")):
            if not getattr(self, key):
                problems.append((key, f"required: set it, like {key} = \"{example}\""))
        if self.domain and not _DOMAIN.fullmatch(self.domain):
            problems.append(("domain", f"{self.domain!r} is not a lowercase domain name like "
                                       "\"example.org\" (an IDN in its xn-- form)"))
        if self.selector and not _SELECTOR.fullmatch(self.selector):
            problems.append(("selector", f"{self.selector!r} is not a DNS label like \"mail\""))
        for name in self.headers:
            if not _FIELD_NAME.fullmatch(name):
                problems.append(("headers", f"{name!r} is not a header name"))
            elif name.lower() in DKIM_UNSIGNABLE:
                problems.append(("headers", f"{name!r} must not be signed: it is added or "
                                            "changed on the way"))
        if "from" not in (n.lower() for n in self.headers):
            problems.append(("headers", "must include \"From\" (RFC 6376 requires it signed)"))
        return problems


@dataclass(frozen=True)
class RelayConfig:
    queue_dir: Path = _key("path", "var/queue")
    connections: int = _key("count", 4)
    processes: int = _key("whole", 0)     # relay processes sharing the queue; 0 = one per CPU
    retry_schedule: tuple[float, ...] = _key("durations", ["1m", "5m", "15m", "30m", "1h", "2h"])
    max_lifetime: float = _key("duration", "2d")
    max_message_size: int = _key("size", "25MB")
    archive: bool = _key("bool", False)
    badmail_max_age: float = _key("duration", "30d")
    metrics_listen: str = _key("str", "")
    feedback_file: Path | None = _key("optional_path", "")   # JSON line per recipient failed for good
    delivery_reports: bool = _key("bool", False)   # RFC 3464 report to the sender of a message in badmail
    report_from: str = _key("str", "")             # the reports' From; "" = MAILER-DAEMON@<hostname>
    # The queue dashboard's window (relay.daemon.control): status.json, requests/, results/; "" = off
    admin_dir: Path | None = _key("optional_path", "var/relay-admin")
    log_level: str = _key("choice", "info", choices=("debug", "info", "warning", "error"))
    log_file: Path | None = _key("optional_path", "")
    smarthost: SmartHostConfig = field(default_factory=SmartHostConfig)
    # [[relay.smarthosts]] (several, failover) instead of [relay.smarthost]; use `hosts`
    smarthosts: tuple[SmartHostConfig, ...] = _key("tables", [], cls=SmartHostConfig)
    smarthost_cooldown: float = _key("timeout", "1m")   # a failed host is skipped this long
    # [relay.dkim] (one domain) or [[relay.dkim]] (one table per domain); none = mail goes unsigned
    dkim: tuple[DkimConfig, ...] = _key("tables", [], cls=DkimConfig)

    # Tables that say the same thing two ways: giving both is an error naming both.
    EXCLUSIVE = (("smarthost", "smarthosts"),)

    @property
    def hosts(self) -> tuple[SmartHostConfig, ...]:
        """The smart hosts, in the order they are tried: [[relay.smarthosts]], else the one."""
        return self.smarthosts or (self.smarthost,)

    def conflicts(self) -> list[tuple[str, str]]:
        problems = []
        if self.report_from:
            try:
                check_address(self.report_from, "report_from")
            except UnsafeHeaderError:
                problems.append(("report_from", f"{self.report_from!r} is not an address like "
                                                "\"MAILER-DAEMON@mail.example.org\" (no name, no <>)"))
        domains = [d.domain for d in self.dkim]
        twice = sorted({d for d in domains if domains.count(d) > 1})
        if twice:
            problems.append(("dkim", f"domain {twice[0]!r} is configured twice: one key per domain"))
        labels = [h.label for h in self.smarthosts]
        twice = sorted({h for h in labels if labels.count(h) > 1})
        if twice:
            problems.append(("smarthosts", f"{twice[0]} is listed twice: one table per host"))
        return problems


@dataclass(frozen=True)
class InboundConfig:
    """Mail coming back (bounces, complaints, replies): `relay receive` and `relay deliver-inbound`
    store it in `dir`, the drop folder the site reads."""
    listen: str = _key("listen", "127.0.0.1:2526")     # `relay receive`: address:port, [IPv6]:port
    domains: tuple[str, ...] = _key("domains", [])     # mail for these only; none = nothing received
    dir: Path = _key("path", "var/drop")
    max_message_size: int = _key("size", "25MB")
    max_recipients: int = _key("count", 100)           # per message; RFC 5321 4.5.3.1.8 asks for 100
    hostname: str = _key("str", "")                    # the greeting's and Received's name; "" = this host's
    tls_cert: Path | None = _key("optional_path", "")   # PEM chain: STARTTLS offered (never required)
    tls_key: Path | None = _key("optional_path", "")
    connections: int = _key("count", 100)              # at once, from every client together
    client_connections: int = _key("count", 10)        # at once, from one client address
    client_message_rate: str = _key("rate", "300/m")   # MAIL FROMs per client address; "" = no limit
    timeout: float = _key("timeout", "5m")             # a client silent this long is cut off

    def conflicts(self) -> list[tuple[str, str]]:
        problems = [("domains", f"{d!r} is not a domain name like \"example.org\" (an IDN in its "
                                "xn-- form)") for d in self.domains if not _DOMAIN.fullmatch(d)]
        if bool(self.tls_cert) != bool(self.tls_key):
            problems.append(("tls_key" if self.tls_cert else "tls_cert",
                             "tls_cert and tls_key go together: set both, or neither"))
        if self.client_connections > self.connections:
            problems.append(("client_connections", f"{self.client_connections} is more than "
                                                   f"connections ({self.connections})"))
        return problems


@dataclass(frozen=True)
class ReleaseConfig:
    """[sink.release]: where the inbox's "release" sends one captured message on (to see it in a
    real mail client); the keys of [relay.smarthost] that make sense for it. No host = off."""
    host: str = _key("str", "")
    port: int = _key("port", 587)
    tls: str = _key("choice", "starttls", choices=("starttls", "tls", "none"))
    ca_file: Path | None = _key("optional_path", "")   # trusted instead of the system store
    tls_name: str = _key("str", "")
    verify: bool = _key("bool", True)
    username: str = _key("str", "")
    password_env: str = _key("str", "")
    password_file: Path | None = _key("optional_path", "")   # mode checked: owner only
    timeout: float = _key("timeout", "20s")   # each step of the conversation: a page waits for it
    sender: str = _key("str", "")             # MAIL FROM; "" = the captured message's own
    # Who a message may be released to: addresses, domains (any address at one), or "*" (anyone).
    allowed_recipients: tuple[str, ...] = _key("domains", [])

    def conflicts(self) -> list[tuple[str, str]]:
        problems = []
        if self.host and not self.allowed_recipients:
            problems.append(("allowed_recipients", "required with host: the addresses or domains a "
                             "message may be released to, like [\"me@example.org\", \"example.org\"] "
                             "([\"*\"] for anyone)"))
        for entry in self.allowed_recipients:
            if entry != "*" and not _DOMAIN.fullmatch(entry) and not _is_address(entry):
                problems.append(("allowed_recipients", f"{entry!r} is not an address like "
                                 "\"me@example.org\", a domain like \"example.org\" or \"*\""))
        if self.sender and not _is_address(self.sender):
            problems.append(("sender", f"{self.sender!r} is not an address like \"me@example.org\" "
                                       "(no name, no <>)"))
        if self.password_env and self.password_file:
            problems.append(("password_file", "set password_env or password_file, not both"))
        if self.username and self.tls == "none":
            problems.append(("username", 'AUTH needs TLS here: set tls = "starttls" or "tls"'))
        return problems


@dataclass(frozen=True)
class SinkConfig:
    host: str = _key("str", "127.0.0.1")
    port: int = _key("port", 2525)
    maildir: Path = _key("path", "var/sink")
    web_port: int = _key("port_or_off", 8025)   # `relay inbox`: the Maildir in a browser; 0 = off
    release: ReleaseConfig = field(default_factory=ReleaseConfig)   # [sink.release]


@dataclass(frozen=True)
class WebappConfig:
    database_url: str = _key("str", "sqlite:///var/webapp.db")
    base_url: str = _key("str", "http://127.0.0.1:5000")
    mail_from: str = _key("str", "Q&A <noreply@example.test>")
    activation_expiry: float = _key("duration", "48h")
    secret_key_file: Path = _key("path", "var/secret_key")   # made on first run if missing
    session_lifetime: float = _key("duration", "14d")         # a login ends this long after it began
    session_idle_timeout: float | None = _key("optional_duration", "")   # "" = no idle timeout
    trusted_proxies: int = _key("whole", 0)          # reverse-proxy hops whose X-Forwarded-* count
    ratelimit_storage: str = _key("str", "memory://")  # shared (redis://...) with several processes
    # Wrong passwords an hour per account from one client address, then that client waits; and
    # per account from every client together, then password logins wait (a reset by mail logs in).
    failed_logins_per_hour: int = _key("count", 10)
    failed_logins_all_clients_per_hour: int = _key("count", 100)
    posts_per_minute: int = _key("count", 10)        # posts of any kind per member, then 429
    articles_by: str = _key("choice", "members", choices=("members", "admins"))  # who may write one
    # Notifications (webapp.mail.fanout): instant mails one member gets a day before the rest wait
    # for the next digest; how long an event waits so a quick delete or edit still counts.
    max_notifications_per_day: int = _key("count", 50)
    notification_delay: float = _key("duration", "0s")
    # A member on "when I'm away" gets the mail this long after the event, only if they have not
    # read it on the site by then (webapp.mail.away); "0s" = at once.
    mail_when_away: float = _key("duration", "10m")
    bounce_soft_limit: int = _key("count", 3)   # soft failures (full mailbox, expiry) that mark an address
    page_cache_ttl: float = _key("duration", "1s")   # public pages kept for cookieless visitors; "0s" = off
    page_cache_size: int = _key("size", "32MB")      # bytes of them a process keeps; none over a 16th of it
    # Mail that comes back (webapp.inbound): bulk and account mail go out with the envelope
    # sender bounces+TOKEN@ this address's domain (webapp.site.return_path); "" = off.
    bounce_address: str = _key("str", "")
    # Replies by mail (webapp.inbound.replies): notifications of answers and comments carry
    # Reply-To: LOCAL+TOKEN@DOMAIN of this address; "" = off. A token works this long after its day.
    reply_address: str = _key("str", "")
    reply_expiry: float = _key("duration", "30d")

    def conflicts(self) -> list[tuple[str, str]]:
        problems = [(key, problem) for key in ("bounce_address", "reply_address")
                    if (problem := _return_address_problem(getattr(self, key)))]
        if self.bounce_address and self.bounce_address.lower() == self.reply_address.lower():
            problems.append(("reply_address", "must differ from bounce_address: the worker tells "
                                              "bounces from replies by the address they come to"))
        return problems


def _is_address(text: str) -> bool:
    try:
        check_address(text)
    except UnsafeHeaderError:
        return False
    return True


RETURN_LOCAL_PART_MAX = 20   # a token of up to 40 characters follows, within SMTP's 64


def _return_address_problem(address: str) -> str | None:
    """Why `address` cannot carry +TOKEN addresses, or None (also for "", which is off)."""
    if not address:
        return None
    try:
        check_address(address)
    except UnsafeHeaderError:
        return f"{address!r} is not an address like \"bounces@mail.example.org\" (no name, no <>)"
    local = address.rpartition("@")[0]
    if "+" in local or len(local) > RETURN_LOCAL_PART_MAX:
        return (f"{address!r}: its local part must be at most {RETURN_LOCAL_PART_MAX} characters "
                "without a \"+\" (\"+TOKEN\" is added to it, and SMTP allows 64 in all)")
    return None


@dataclass(frozen=True)
class Config:
    path: Path | None
    base_dir: Path
    pickup: PickupConfig
    relay: RelayConfig
    inbound: InboundConfig
    sink: SinkConfig
    webapp: WebappConfig
