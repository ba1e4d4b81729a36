"""The smart host password: read from password_file or the variable password_env names.

smarthost_password() returns the password for [relay.smarthost] username, read
afresh for each new connection so a changed file or secret needs no restart.
password_file must be a regular file readable and writable by its owner only
(the site's user shares the relay's group): anything more is refused, not
read. With tls = "none" there is no password unless allow_plaintext_auth = true:
it would cross the network in clear. The password is never put in a message,
a log line or an exception. Uses [relay.smarthost] username, password_env,
password_file, tls and allow_plaintext_auth. Raises CredentialsError (what is
wrong and how to fix it) when there is no password that may be used.
"""

from __future__ import annotations

import os
import stat

from settings import SmartHostConfig

MAX_SIZE = 4096   # a password file is one short line


class CredentialsError(Exception):
    """The smart host password cannot be had; the message says why and what to do."""


def smarthost_password(config: SmartHostConfig) -> str:
    if config.tls == "none" and not config.allow_plaintext_auth:
        raise CredentialsError('AUTH over a plaintext connection refused: set [relay.smarthost] '
                               'tls = "starttls" or "tls" (or allow_plaintext_auth = true)')
    if config.password_file is not None:
        return _from_file(config.password_file)
    if config.password_env:
        password = os.environ.get(config.password_env)
        if password is None:
            raise CredentialsError(f"${config.password_env} ([relay.smarthost] password_env) is not "
                                   f"set: export {config.password_env}=... in the relay's environment")
        return password
    raise CredentialsError("[relay.smarthost] username is set but neither password_env nor "
                           "password_file is: set one of them")


class PrivateFileError(Exception):
    """A secret file (password, private key) that must not be used; the message says why."""


def read_private(path: os.PathLike, where: str, max_size: int, holds: str) -> bytes:
    """The bytes of a secret file: a regular file no group or other user may touch, at most
    max_size bytes (`holds` says what it should hold). Raises PrivateFileError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise PrivateFileError(f"{where}: cannot open: {e.strerror}") from None
    try:
        st = os.fstat(fd)   # of the file opened, not of whatever the name points at later
        if not stat.S_ISREG(st.st_mode):
            raise PrivateFileError(f"{where}: not a regular file")
        if st.st_mode & 0o077:
            raise PrivateFileError(
                f"{where}: mode {stat.S_IMODE(st.st_mode):04o} lets group or others at it; "
                f"refused: chmod 600 {path} (owned by the relay's user)")
        data = os.read(fd, max_size + 1)
    except OSError as e:
        raise PrivateFileError(f"{where}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > max_size:
        raise PrivateFileError(f"{where}: over {max_size} bytes: it should hold {holds}")
    return data


def _from_file(path: os.PathLike) -> str:
    where = f"[relay.smarthost] password_file {path}"
    try:
        data = read_private(path, where, MAX_SIZE, "one line, the password")
    except PrivateFileError as e:
        raise CredentialsError(str(e)) from None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise CredentialsError(f"{where}: not UTF-8 text") from None
    if not lines or not lines[0]:
        raise CredentialsError(f"{where}: empty: put the password on its first line")
    return lines[0]
