"""The site's signing key (sessions, activation and reset links), read and checked at start.

From $PICKUP_RELAY_SECRET_KEY, else [webapp] secret_key_file, which is made (random,
mode 0600) on the first run. Refuses, with ConfigError, a key under MIN_KEY_BYTES
(anything signed with a short or empty key can be forged) and a key file that its
group or others can read or change.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from channel.files import create_file
from settings import ConfigError

ENV_VAR = "PICKUP_RELAY_SECRET_KEY"
MIN_KEY_BYTES = 32
KEY_FILE_MODE = 0o600


def secret_key(path: Path) -> str:
    if os.environ.get(ENV_VAR):  # set and not empty; empty means unset, as before
        return _checked(os.environ[ENV_VAR].strip(), f"${ENV_VAR}")
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:   # synced: after a power cut the file holds the whole key, not an empty one
        create_file(path, key.encode(), KEY_FILE_MODE, fsync=True)
    except FileExistsError:   # the first process to start wins; the others read its key
        return _read(path)
    return key


def _read(path: Path) -> str:
    with open(path) as f:  # FileNotFoundError goes to the caller: then the key is made
        mode = os.fstat(f.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"[webapp] secret_key_file: {path} can be read or changed by its group or others "
                f"(mode {stat.filemode(mode)}); anyone who has it can log in as any member. "
                f"Run: chmod 600 {path}")
        key = f.read().strip()
    return _checked(key, str(path))


def _checked(key: str, where: str) -> str:
    size = len(key.encode())
    if size < MIN_KEY_BYTES:
        what = "empty" if size == 0 else f"only {size} bytes"
        fix = "set it to" if where.startswith("$") else \
            "delete the file to have a new key made at the next start, or put in it"
        raise ConfigError(
            f"[webapp] secret key from {where} is {what}; it must be at least {MIN_KEY_BYTES} "
            f"random bytes, or links and sessions signed with it can be forged: {fix} the output "
            "of python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
    return key
