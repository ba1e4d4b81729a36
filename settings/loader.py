"""Reading config.toml: which file, TOML into the typed tables, and what a wrong value says.

Reads the file named by --config, else $PICKUP_RELAY_CONFIG, else ./config.toml;
with no file at the default place the embedded defaults apply (a local run).
Relative paths resolve against the config file's folder. Unknown keys, wrong
types and bad durations or sizes raise ConfigError naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

from settings.tables import (
    Config,
    ConfigError,
    InboundConfig,
    PickupConfig,
    RelayConfig,
    SinkConfig,
    WebappConfig,
)
from settings.units import parse_duration, parse_listen, parse_size

ENV_VAR = "PICKUP_RELAY_CONFIG"
DEFAULT_NAME = "config.toml"


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
    sections = {"pickup": PickupConfig, "relay": RelayConfig, "inbound": InboundConfig,
                "sink": SinkConfig, "webapp": WebappConfig}
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
            if kind == "domains":   # checked as names by the table; compared without case
                if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
                    raise ValueError(f"expected a list of domain names like [\"example.org\"], got {raw!r}")
                return tuple(dict.fromkeys(x.strip().lower() for x in raw))
            if kind == "listen":
                value = self.typed(raw, str, table, key)
                parse_listen(value)
                return value
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
