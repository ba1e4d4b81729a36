"""The Q&A site: create_app() builds it from config.toml ([webapp], [pickup], [relay], [sink]).

`flask --app webapp run | init-db | create-admin | ...`. create_app() checks the config,
keeps it on the app (webapp.site.config.site_config() is how every part reads it), sets
Flask's own keys, binds the extensions, and registers each feature's blueprints and
commands: site/ (what every page shares), accounts/, posts/, mail/, admin/. Every outgoing
mail is written to the pickup folder by the spooler; the relay sends it. Stops at start
with ConfigError for a bad mail_from or a weak or exposed secret key. A SQLite database
file (it holds password hashes) is created readable by its owner only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from settings import Config, ConfigError, load_config
from settings.local_run import config_to_read
from spooler.message import Address
from webapp.site.config import use_config
from webapp.site.database import database_url
from webapp.site.keys import secret_key


def create_app(config: Config | None = None, overrides: dict | None = None) -> Flask:
    """The site for `config` (default: load_config()); `overrides` are Flask keys (TESTING...)."""
    if config is None:  # started by `flask` or gunicorn: a bad config is a message, not a traceback
        try:
            # While `make run` runs here, its config, saying so (settings.local_run).
            return _create_app(load_config(config_to_read(None, _program())), overrides)
        except ConfigError as e:
            print(f"config error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    return _create_app(config, overrides)


def _program() -> str:
    """The command's name for what it says on stderr: flask, gunicorn."""
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "webapp"


def _create_app(config: Config, overrides: dict | None) -> Flask:
    app = Flask(__name__)
    try:  # fail at start, not at the first mail
        Address.parse(config.webapp.mail_from)
    except ValueError as e:
        raise ConfigError(f"{config.path or 'embedded defaults'}: [webapp] mail_from: {e}") from None
    use_config(app, config)
    app.config.update(_flask_keys(config))
    app.config.update(overrides or {})
    _bind_extensions(app, config)
    _register_features(app, config)
    return app


def _https(config: Config) -> bool:
    return config.webapp.base_url.startswith("https://")


def _flask_keys(config: Config) -> dict:
    """Flask's and its extensions' own settings; the site's are read through site_config()."""
    web = config.webapp
    secure = _https(config)
    return dict(
        SECRET_KEY=secret_key(web.secret_key_file),
        SQLALCHEMY_DATABASE_URI=database_url(web.database_url, config.base_dir),
        PERMANENT_SESSION_LIFETIME=int(web.session_lifetime),  # the signed cookie's own limit
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        RATELIMIT_ENABLED=True,  # said each time: the limiter keeps the last app's choice
        RATELIMIT_STORAGE_URI=web.ratelimit_storage,
        RATELIMIT_HEADERS_ENABLED=True,
    )


def _bind_extensions(app: Flask, config: Config) -> None:
    from webapp.site.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    # The client's address (rate limits) from the proxies we were told of.
    if hops := config.webapp.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def _register_features(app: Flask, config: Config) -> None:
    from webapp.accounts import (
        activation,
        address_change,
        auth,
        member_settings,
        passwords,
        session_store,
        sessions_page,
    )
    from webapp.accounts import commands as account_commands
    from webapp.admin import members, moderation, newsletter_pages, queue_dashboard
    from webapp.inbound import commands as inbound_commands
    from webapp.mail import commands as mail_commands
    from webapp.mail import metrics, newsletter_commands, unsubscribe
    from webapp.notices import views as notices
    from webapp.posts import articles, browse, following, own_posts, questions
    from webapp.site import commands as site_commands
    from webapp.site import error_pages, favicon, health, page_cache
    from webapp.site.extensions import login_manager
    from webapp.site.security_headers import add_security_headers

    login_manager.user_loader(session_store.resolve)
    add_security_headers(app, https=_https(config))
    for blueprint in (browse.bp, questions.bp, articles.bp, own_posts.bp, following.bp,  # posts/
                      auth.bp, passwords.bp, sessions_page.bp, member_settings.bp,         # accounts/
                      activation.bp, address_change.bp,
                      moderation.bp, members.bp, queue_dashboard.bp, newsletter_pages.bp,  # admin/
                      unsubscribe.bp, metrics.bp,                                         # mail/
                      notices.bp,                                                         # notices/
                      health.bp, favicon.bp):                                             # site/
        app.register_blueprint(blueprint)
    error_pages.register(app)
    page_cache.init_app(app, config.webapp.page_cache_ttl, config.webapp.page_cache_size)
    for command in (*site_commands.COMMANDS, *account_commands.COMMANDS, *mail_commands.COMMANDS,
                    *newsletter_commands.COMMANDS, *inbound_commands.COMMANDS):
        app.cli.add_command(command)
