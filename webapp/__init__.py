"""The Q&A site: create_app() builds it from config.toml ([webapp], [pickup], [relay]).

`flask --app webapp run | init-db | create-admin`. Every outgoing mail is
written to the pickup folder by the spooler; the relay sends it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, render_template

from settings import Config, ConfigError, load_config
from spooler.message import Address


def create_app(config: Config | None = None, overrides: dict | None = None) -> Flask:
    config = config or load_config()
    app = Flask(__name__)
    web = config.webapp
    try:  # fail at start, not at the first mail
        Address.parse(web.mail_from)
    except ValueError as e:
        raise ConfigError(f"{config.path or 'embedded defaults'}: [webapp] mail_from: {e}") from None
    secure = web.base_url.startswith("https://")
    app.config.update(
        SECRET_KEY=_secret_key(web.secret_key_file),
        SQLALCHEMY_DATABASE_URI=_database_url(web.database_url, config.base_dir),
        BASE_URL=web.base_url,
        MAIL_FROM=web.mail_from,
        PICKUP_DIR=config.pickup.dir,
        MAX_MESSAGE_SIZE=config.relay.max_message_size,
        ACTIVATION_MAX_AGE=int(web.activation_expiry),
        RESET_MAX_AGE=3600,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        RATELIMIT_HEADERS_ENABLED=True,
        PICKUP_RELAY_CONFIG=config,
    )
    app.config.update(overrides or {})

    from webapp.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)

    from webapp import auth, cli, main
    from webapp.models import User

    @login_manager.user_loader
    def load_user(session_token: str):
        return db.session.execute(
            db.select(User).filter_by(session_token=session_token)).scalar_one_or_none()

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    cli.register(app)

    @app.errorhandler(429)
    def too_many_requests(error):
        return render_template("too_many.html", limit=getattr(error, "description", "")), 429

    return app


def _database_url(url: str, base_dir: Path) -> str:
    """sqlite:///relative.db resolves against the config file's folder, like every path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        path = (base_dir / url[len(prefix):]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return prefix + str(path)
    return url


def _secret_key(path: Path) -> str:
    """From $PICKUP_RELAY_SECRET_KEY, else the key file, made (mode 0600) on first run."""
    if os.environ.get("PICKUP_RELAY_SECRET_KEY"):
        return os.environ["PICKUP_RELAY_SECRET_KEY"]
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    try:
        os.link(temp, path)  # the first process to start wins; the others read its key
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        os.unlink(temp)
    return key
