"""What a setup check says: the result type of `relay check` and `flask --app webapp check`.

Each check of the config, a folder, a connection or a key is one CheckResult: ok, a
warning (works, but a person should know; the exit status stays 0), or a problem with
the fix to make. Here, beside the config both commands check, so the site and the
relay share the type without the site importing the relay. No checks run here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False   # works, but a person should know (exit status stays 0)
