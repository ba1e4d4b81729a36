"""The one configuration loader: config.toml -> typed, frozen dataclasses.

Reads the file named by --config, else $PICKUP_RELAY_CONFIG, else ./config.toml;
with no file at the default place the embedded defaults apply (a local run).
Relative paths resolve against the config file's folder. Unknown keys, wrong
types and bad durations or sizes raise ConfigError naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from settings.units import parse_duration, parse_size
from spooler.envelope import UnsafeHeaderError, check_address

ENV_VAR = "PICKUP_RELAY_CONFIG"
DEFAULT_NAME = "config.toml"


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
class SinkConfig:
    host: str = _key("str", "127.0.0.1")
    port: int = _key("port", 2525)
    maildir: Path = _key("path", "var/sink")
    web_port: int = _key("port_or_off", 8025)   # `relay inbox`: the Maildir in a browser; 0 = off


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
    bounce_soft_limit: int = _key("count", 3)   # soft failures (full mailbox, expiry) that mark an address
    page_cache_ttl: float = _key("duration", "1s")   # public pages kept for cookieless visitors; "0s" = off
    page_cache_size: int = _key("size", "32MB")      # bytes of them a process keeps; none over a 16th of it


@dataclass(frozen=True)
class Config:
    path: Path | None
    base_dir: Path
    pickup: PickupConfig
    relay: RelayConfig
    sink: SinkConfig
    webapp: WebappConfig


def default_config_path() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_NAME)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load config from `path`, $PICKUP_RELAY_CONFIG or ./config.toml (defaults if absent)."""
    explicit = path is not None or bool(os.environ.get(ENV_VAR))
    config_path = Path(path) if path is not None else default_config_path()
    if not config_path.exists():
        if explicit:
            raise ConfigError(f"{config_path}: no such config file")
        return parse_config({}, base_dir=Path.cwd(), source=None)
    try:
        with open(config_path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{config_path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{config_path}: cannot read: {e.strerror}") from None
    return parse_config(data, base_dir=config_path.resolve().parent, source=config_path)


def parse_config(data: dict, *, base_dir: Path, source: Path | None) -> Config:
    """Build a Config from already-parsed TOML (tests and tools that hold a dict)."""
    where = str(source) if source else "embedded defaults"
    reader = _Reader(where, base_dir)
    sections = {"pickup": PickupConfig, "relay": RelayConfig, "sink": SinkConfig,
                "webapp": WebappConfig}
    reader.reject_unknown(data, sections, "")
    built = {name: reader.section(data.get(name, {}), cls, name) for name, cls in sections.items()}
    return Config(path=source, base_dir=base_dir, **built)


class _Reader:
    def __init__(self, where: str, base_dir: Path):
        self.where = where
        self.base_dir = base_dir

    def fail(self, table: str, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: [{table}] {key}: {problem}")

    def reject_unknown(self, data: dict, known: Any, table: str) -> None:
        for key in data:
            if key not in known:
                place = f"[{table}] " if table else ""
                expected = ", ".join(sorted(known))
                raise ConfigError(f"{self.where}: {place}unknown key {key!r} (known: {expected})")

    def section(self, data: Any, cls: type, table: str) -> Any:
        if not isinstance(data, dict):
            raise ConfigError(f"{self.where}: [{table}] must be a table, not {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        self.reject_unknown(data, fields, table)
        for one, other in getattr(cls, "EXCLUSIVE", ()):
            if one in data and other in data:
                raise self.fail(table, other, f"set [{table}.{one}] (one host) or "
                                              f"[[{table}.{other}]] (several), not both")
        values = {}
        for name, f in fields.items():
            if "kind" not in f.metadata:  # a nested table such as [relay.smarthost]
                nested = data.get(name, {})
                values[name] = self.section(nested, f.default_factory, f"{table}.{name}")
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            raw = data.get(name, default)
            values[name] = self.convert(raw, f.metadata, table, name)
        built = cls(**values)
        for key, problem in getattr(built, "conflicts", list)():
            raise self.fail(table, key, problem)
        return built

    def convert(self, raw: Any, meta: dict, table: str, key: str) -> Any:
        kind = meta["kind"]
        try:
            if kind == "str":
                return self.typed(raw, str, table, key)
            if kind == "bool":
                return self.typed(raw, bool, table, key)
            if kind == "whole":
                value = self.typed(raw, int, table, key)
                if not 0 <= value <= 64:
                    raise ValueError(f"{value} is outside 0..64")
                return value
            if kind in ("count", "port", "port_or_off", "weight"):
                value = self.typed(raw, int, table, key)
                low, high = {"count": (1, 1000), "port": (1, 65535), "port_or_off": (0, 65535),
                             "weight": (0, 1000)}[kind]
                if not low <= value <= high:
                    raise ValueError(f"{value} is outside {low}..{high}")
                return value
            if kind == "choice":
                value = self.typed(raw, str, table, key)
                if value not in meta["choices"]:
                    raise ValueError(f"{value!r} is not one of {', '.join(meta['choices'])}")
                return value
            if kind == "path":
                return self.base_dir / self.typed(raw, str, table, key)
            if kind == "optional_path":
                value = self.typed(raw, str, table, key)
                return self.base_dir / value if value else None
            if kind == "duration":
                return parse_duration(raw)
            if kind == "timeout":  # 0 would make the socket non-blocking, not patient
                value = parse_duration(raw)
                if value <= 0:
                    raise ValueError(f"{raw!r} is no time at all; a timeout is like \"30s\"")
                return value
            if kind == "optional_duration":
                return None if raw == "" else parse_duration(raw)
            if kind == "size":
                return parse_size(raw)
            if kind == "durations":
                return self.durations(raw, table, key)
            if kind == "names":
                if not isinstance(raw, list | tuple) or not raw or \
                        not all(isinstance(x, str) for x in raw):
                    raise ValueError(f"expected a non-empty list of header names, got {raw!r}")
                return tuple(raw)
            if kind == "tables":
                return self.tables(raw, meta["cls"], f"{table}.{key}")
            if kind == "rate":
                value = self.typed(raw, str, table, key)
                if value:
                    parse_rate(value)
                return value
        except ValueError as e:
            raise self.fail(table, key, str(e)) from None
        raise AssertionError(f"unknown config kind {kind}")

    def typed(self, raw: Any, expected: type, table: str, key: str) -> Any:
        # bool is an int in Python; TOML keeps them apart, so do we.
        if type(raw) is not expected:
            got = f"{_type_name(type(raw))} {raw!r}"
            raise self.fail(table, key, f"expected {_type_name(expected)}, got {got}")
        return raw

    def tables(self, raw: Any, cls: type, table: str) -> tuple[Any, ...]:
        """[table] (one) or [[table]] (several) as a tuple of `cls`."""
        if isinstance(raw, dict):
            return (self.section(raw, cls, table),)
        if not isinstance(raw, list | tuple):
            raise ConfigError(f"{self.where}: [{table}] must be a table or [[{table}]] tables, "
                              f"not {type(raw).__name__}")
        many = len(raw) > 1
        return tuple(self.section(item, cls, f"{table} #{n}" if many else table)
                     for n, item in enumerate(raw, start=1))

    def durations(self, raw: Any, table: str, key: str) -> tuple[float, ...]:
        if not isinstance(raw, list | tuple) or not raw:
            raise self.fail(table, key, f"expected a non-empty list of durations, got {raw!r}")
        out = []
        for i, item in enumerate(raw):
            try:
                out.append(parse_duration(item))
            except ValueError as e:
                raise self.fail(table, f"{key}[{i}]", str(e)) from None
        return tuple(out)


_RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text: str) -> tuple[int, float]:
    """"50/s" -> (50, 1.0): that many messages per that many seconds."""
    count, _, unit = text.partition("/")
    if not count.strip().isdigit() or unit.strip() not in _RATE_UNITS or int(count) <= 0:
        raise ValueError(f"{text!r} is not a rate like \"50/s\", \"1000/h\" or \"50000/d\"")
    return int(count), float(_RATE_UNITS[unit.strip()])


def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number",
            list: "a list", dict: "a table"}.get(t, t.__name__)
