"""A savepoint that stays part of the session's transaction, on SQLite too.

Python's sqlite3 begins a transaction only before an INSERT, UPDATE or DELETE, and a SAVEPOINT
issued outside a transaction starts one of its own that its RELEASE commits. So a
begin_nested() that is a request's first write would commit its changes at once, before, and
without, the rest of the request: a follow kept though the request failed, a drop file's
effect committed without its record. savepoint() begins the transaction first. Other
databases begin with the session: nothing to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import SessionTransaction

from webapp.site.extensions import db


def begin_for_savepoints() -> None:
    """Make sure the session's SQLite connection is inside a transaction."""
    driver = db.session.connection().connection.driver_connection
    if isinstance(driver, sqlite3.Connection) and not driver.in_transaction:
        driver.execute("BEGIN")


@contextmanager
def savepoint() -> Iterator[SessionTransaction]:
    """db.session.begin_nested(), inside the session's transaction."""
    begin_for_savepoints()
    with db.session.begin_nested() as nested:
        yield nested
