"""gunicorn's access log without the secrets some URLs carry.

An activation, password-reset, address-change or unsubscribe link has its token in the
path; a log line holding it would let whoever reads the logs use it. RedactingLogger
(contrib/gunicorn.conf.py sets it as logger_class) writes the same lines as gunicorn's
with each token replaced by "[token]", in the path and in the request line.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

_TOKEN_PATHS = re.compile(
    r"(/account/(?:activate|reset|settings/email)/|/unsubscribe/)[^/?#\s\"]+")


def redact(text: str) -> str:
    return _TOKEN_PATHS.sub(r"\1[token]", text)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "{raw_uri}e"):
            if key in atoms and isinstance(atoms[key], str):
                atoms[key] = redact(atoms[key])
        return atoms
