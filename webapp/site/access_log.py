"""gunicorn's access log without the secrets some URLs carry.

An activation, password-reset, address-change or unsubscribe link has its token in the
path; a log line holding it would let whoever reads the logs use it. RedactingLogger
(contrib/gunicorn.conf.py sets it as logger_class) writes the same lines as gunicorn's
with each token replaced by "[token]", in the path, the request line and the Referer (a
link followed from such a page by a browser that sends the page's address).
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

_TOKEN_PATHS = re.compile(
    r"(/account/(?:activate|reset|settings/email)/|/unsubscribe/)[^/?#\s\"]+")
# gunicorn's atoms that hold a URL a client sent: request line, path, Referer, raw URI.
_URL_ATOMS = ("r", "U", "f", "{referer}i", "{raw_uri}e")


def redact(text: str) -> str:
    return _TOKEN_PATHS.sub(r"\1[token]", text)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in _URL_ATOMS:
            if key in atoms and isinstance(atoms[key], str):
                atoms[key] = redact(atoms[key])
        return atoms
