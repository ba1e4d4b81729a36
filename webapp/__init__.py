"""The Q&A site: create_app() builds it from config.toml ([webapp], [pickup], [relay], [sink]).

`flask --app webapp run | init-db | create-admin`. Every outgoing mail is
written to the pickup folder by the spooler; the relay sends it. Stops at start
with ConfigError for a bad mail_from or a weak or exposed secret key. A SQLite
database file (it holds password hashes) is created readable by its owner only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from settings import Config, ConfigError, load_config
from spooler.message import Address
from webapp.site.database import database_url
from webapp.site.keys import secret_key


def create_app(config: Config | None = None, overrides: dict | None = None) -> Flask:
    if config is None:  # started by `flask` or gunicorn: a bad config is a message, not a traceback
        try:
            return _create_app(load_config(), overrides)
        except ConfigError as e:
            print(f"config error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    return _create_app(config, overrides)


def _create_app(config: Config, overrides: dict | None) -> Flask:
    app = Flask(__name__)
    web = config.webapp
    try:  # fail at start, not at the first mail
        Address.parse(web.mail_from)
    except ValueError as e:
        raise ConfigError(f"{config.path or 'embedded defaults'}: [webapp] mail_from: {e}") from None
    secure = web.base_url.startswith("https://")
    app.config.update(
        SECRET_KEY=secret_key(web.secret_key_file),
        SQLALCHEMY_DATABASE_URI=database_url(web.database_url, config.base_dir),
        BASE_URL=web.base_url,
        MAIL_FROM=web.mail_from,
        PICKUP_DIR=config.pickup.dir,
        MAX_MESSAGE_SIZE=config.relay.max_message_size,
        ACTIVATION_MAX_AGE=int(web.activation_expiry),
        RESET_MAX_AGE=3600,
        # A local run (the smart host is the local sink) accepts addresses at reserved
        # domains such as example.test, the README's examples; nothing leaves the machine.
        LOCAL_MAIL=all((h.host, h.port) == (config.sink.host, config.sink.port)
                       for h in config.relay.hosts),
        SESSION_LIFETIME=web.session_lifetime,
        SESSION_IDLE_TIMEOUT=web.session_idle_timeout,
        PERMANENT_SESSION_LIFETIME=int(web.session_lifetime),  # the signed cookie's own limit
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        RATELIMIT_ENABLED=True,  # said each time: the limiter keeps the last app's choice
        RATELIMIT_STORAGE_URI=web.ratelimit_storage,
        FAILED_LOGINS_PER_HOUR=web.failed_logins_per_hour,
        POSTS_PER_MINUTE=web.posts_per_minute,
        ARTICLES_BY=web.articles_by,
        MAX_NOTIFICATIONS_PER_DAY=web.max_notifications_per_day,
        NOTIFICATION_DELAY=web.notification_delay,
        FEEDBACK_FILE=config.relay.feedback_file,   # the relay's bounces, read by the outbox worker
        BOUNCE_SOFT_LIMIT=web.bounce_soft_limit,
        PAGE_CACHE_TTL=web.page_cache_ttl,
        RATELIMIT_HEADERS_ENABLED=True,
        TRUSTED_PROXIES=web.trusted_proxies,
        PICKUP_RELAY_CONFIG=config,
    )
    app.config.update(overrides or {})

    from webapp.site.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    if web.trusted_proxies:  # the client's address (rate limits) from the proxies we were told of
        hops = web.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from webapp import cli
    from webapp.accounts import auth, member_settings, session_store, sessions_page
    from webapp.admin import members, moderation, newsletter_pages, queue_dashboard
    from webapp.mail import unsubscribe
    from webapp.posts import articles, browse, following, questions
    from webapp.site import error_pages, health, metrics, page_cache
    from webapp.site.security_headers import add_security_headers

    login_manager.user_loader(session_store.resolve)
    add_security_headers(app, https=secure)
    app.register_blueprint(browse.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(sessions_page.bp)
    app.register_blueprint(questions.bp)
    app.register_blueprint(articles.bp)
    app.register_blueprint(moderation.bp)
    app.register_blueprint(members.bp)
    app.register_blueprint(queue_dashboard.bp)
    app.register_blueprint(following.bp)
    app.register_blueprint(member_settings.bp)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(newsletter_pages.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    error_pages.register(app)
    page_cache.init_app(app)
    cli.register(app)
    return app

