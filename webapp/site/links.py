"""Links to the site as mail and background workers write them: against [webapp] base_url,
the public address, never the Host a request came with.

external_url() is a page's absolute address; site_domain() the host name Message-IDs and
List-Ids are made on; links_context() the request context that lets url_for() build them in
a process that serves no request (the fan-out worker, send-digests).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, url_for
from flask.ctx import RequestContext

from webapp.site.config import site_config


def base_url() -> str:
    """[webapp] base_url without a trailing slash."""
    return site_config().webapp.base_url.rstrip("/")


def external_url(endpoint: str, **values) -> str:
    return base_url() + url_for(endpoint, **values)


def site_domain() -> str:
    return urlsplit(site_config().webapp.base_url).hostname or "localhost"


def links_context() -> RequestContext:
    """url_for needs a request: outside one, the site's links are built as in a request to base_url."""
    return current_app.test_request_context("/", base_url=site_config().webapp.base_url)
