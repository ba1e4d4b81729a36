"""The site's settings: the typed Config (settings.Config, from config.toml) that create_app()
was given, kept on the app.

Every part of the site reads [webapp], [pickup], [relay] and [sink] through site_config(),
never through app.config, which keeps only Flask's and its extensions' own keys (SECRET_KEY,
SQLALCHEMY_DATABASE_URI, SESSION_COOKIE_*, RATELIMIT_*). The Config is frozen: a site that
runs with another value is given a Config built with it (dataclasses.replace). site_config()
without an app needs an app context (Flask's RuntimeError otherwise).
"""

from __future__ import annotations

from flask import Flask, current_app

from settings import Config

_EXTENSION = "pickup_relay_config"


def site_config(app: Flask | None = None) -> Config:
    """The Config of `app`, or of the app whose context this is."""
    return (app or current_app).extensions[_EXTENSION]


def use_config(app: Flask, config: Config) -> None:
    """Make `config` the settings `app` reads from now on (create_app() calls it first)."""
    app.extensions[_EXTENSION] = config


def is_local_run(config: Config) -> bool:
    """Every smart host is the local sink: nothing leaves the machine, so addresses at reserved
    domains (the README's examples at example.test) are accepted."""
    return all((h.host, h.port) == (config.sink.host, config.sink.port) for h in config.relay.hosts)
