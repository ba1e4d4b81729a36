"""The inbox's actions that reach beyond the Maildir: releasing a message to a real SMTP
server (relay/sink/release_routes.py) and uploading .eml files into pickup
(relay/sink/upload_routes.py), as pages and as /api/v1/ calls.

register_actions() hangs both on the inbox app with the config they read ([sink.release];
[pickup] dir and [relay] max_message_size); without a config (an inbox on a bare Maildir)
both say they are off. A page's POST counts only from the inbox's own pages (as clearing
does); an API call is refused only when the browser says it comes from another site, so a
test or a script (curl, requests) may call it.
"""

from __future__ import annotations

from flask import Flask, current_app

from settings import Config


def register_actions(app: Flask, config: Config | None) -> None:
    # Imported here: both route modules import this one's helpers.
    from relay.sink.release_routes import release_routes
    from relay.sink.upload_routes import upload_routes

    app.extensions["inbox_config"] = config
    app.register_blueprint(release_routes)
    app.register_blueprint(upload_routes)


def inbox_config() -> Config | None:
    return current_app.extensions.get("inbox_config")


CROSS_SITE = "refused: this call came from another site's page"
