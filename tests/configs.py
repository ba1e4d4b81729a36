"""The tests' one way to make a config: tables as nested dicts over test defaults, given as a
settings.Config (build_config) or as the same data in tmp_path/config.toml (config_file);
replaced() swaps a few typed values in one already built (an app running on it).

The one exception is write_toml: raw text, for tests whose subject is the config text itself
(a file that is not TOML, a value the loader must refuse).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tomli_w

from settings import Config, parse_config

# Relative paths resolve against tmp_path, so every test's folders stay inside it.
DEFAULTS: dict[str, dict] = {"pickup": {"dir": "pickup"}, "relay": {"queue_dir": "queue"}}
# The site on a SQLite file in tmp_path/var, with the address its links are checked against.
# Mail at once to members "away" (the default), as before mail_when_away: tests of the wait set it.
SITE: dict[str, dict] = {"webapp": {"database_url": "sqlite:///var/site.db",
                                    "base_url": "http://qa.example.test", "mail_when_away": "0s"}}


def merged(base: dict, over: dict) -> dict:
    """`over` laid on `base`: tables merge key by key, anything else (lists too) replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def config_data(*presets: dict, **tables: dict) -> dict:
    """DEFAULTS, then each preset, then `tables`, merged; paths as strings, as TOML holds them."""
    data = DEFAULTS
    for layer in (*presets, tables):
        data = merged(data, layer)
    return _plain(data)


def build_config(tmp_path: Path, *presets: dict, **tables: dict) -> Config:
    """The config these tables make, its relative paths in tmp_path; the pickup folder made."""
    return _with_pickup(parse_config(config_data(*presets, **tables), base_dir=tmp_path, source=None))


def config_file(tmp_path: Path, *presets: dict, **tables: dict) -> Path:
    """The same data as build_config, written as tmp_path/config.toml (for `relay run`, flask
    and gunicorn processes); checked as the loader would, and the pickup folder made."""
    data = config_data(*presets, **tables)
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(data))
    _with_pickup(parse_config(data, base_dir=tmp_path, source=path))
    return path


def write_toml(tmp_path: Path, text: str = "") -> Path:
    """tmp_path/config.toml holding exactly `text`: only for tests of what the loader or a
    command makes of the text itself. Nothing is added and no folder is made."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def replaced(config: Config, **tables: dict) -> Config:
    """A built config with some of its tables' values replaced by typed ones (a frozen Config
    for an app already running on `config`)."""
    return dataclasses.replace(config, **{
        name: dataclasses.replace(getattr(config, name), **values) for name, values in tables.items()})


def _with_pickup(config: Config) -> Config:
    config.pickup.dir.mkdir(exist_ok=True)
    return config


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
