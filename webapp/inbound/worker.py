"""The inbound worker: each file of the drop folder handled exactly once, its effect and its
record committed together.

`flask --app webapp inbound-worker` runs it, beside each `relay receive` (a drop folder
belongs to its host); any number may run on one folder. A batch at a time:

  1. claim each waiting file by a rename into this worker's folder
     (webapp.inbound.drop_folder: of several workers, one gets it);
  2. a file whose InboundMessage row exists was handled before (a worker died between its
     commit and its unlink): it is removed, or put in badmail if it was dropped; nothing else;
  3. read each of the others (webapp.inbound.message) and hand it to its handler by the
     address it came to (webapp.inbound.dispatch): the member's state changes and the file's
     row (file_name unique) are added to the batch's transaction (the members the files'
     return paths name read first, in one query); should a handler fail, the batch is done
     again file by file, each in a savepoint, so a handler that fails costs only its file,
     which is then recorded as dropped with the error;
  4. commit the batch: the moment the files are handled;
  5. remove the handled files; move the dropped ones to badmail/ with their reason.

Killed before 4, nothing of the batch happened: the claims are a dead worker's, and the next
worker's recover() hands the files back to be done again. Killed after 4, the rows exist and
step 2 finishes the files. Should a row for a name exist anyway (a recovery racing a commit
still in flight on PostgreSQL), the unique file_name refuses the second commit, which is
then done file by file: the effect of a file cannot be recorded twice. Nothing here sends
mail, so nothing can answer a null sender or an auto-reply. Reads [webapp] bounce_address,
reply_address, bounce_soft_limit and [inbound] dir (drop_folder()).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError, OperationalError

from spooler.envelope import MalformedMessage, read_envelope
from webapp.accounts.models import User
from webapp.inbound import dispatch
from webapp.inbound.drop_folder import DropFolder, drop_folder
from webapp.inbound.message import Handled, Result, read_drop_file
from webapp.inbound.models import InboundMessage
from webapp.site.config import site_config
from webapp.site.extensions import db
from webapp.site.links import links_context
from webapp.site.savepoints import savepoint

log = logging.getLogger(__name__)

BATCH = 200   # files per commit
ENVELOPE_HEAD = 4096   # bytes of a file read for its envelope before the batch is handled
KEPT_READ = 256 * 1024   # a file up to this size is read once, kept for its handling


class _HandlerFailed(Exception):
    """A handler raised in a batch without savepoints: the batch is done again file by file."""


class InboundWorker:
    """One worker process's loop over one drop folder. Use inside an app context."""

    def __init__(self, *, batch: int = BATCH, poll: float = 0.5, folder: Path | None = None):
        config = site_config()
        self.webapp = config.webapp
        self.batch = batch
        self.poll = poll
        self.folder = DropFolder(folder or drop_folder(config))
        self._members: list[User] = []
        self._read: dict[Path, bytes] = {}

    def close(self) -> None:
        self.folder.close()

    def run(self, should_stop: Callable[[], bool], *, once: bool = False,
            recover_every: float = 30.0) -> int:
        """Handle files until should_stop() (or, with once, until none waits); returns how
        many this worker handled. A stop finishes the batch in hand first."""
        handled = 0
        last_recovery = float("-inf")
        with links_context():
            while not should_stop():
                if time.monotonic() - last_recovery >= recover_every:
                    if handed_back := self.folder.recover():
                        log.info("%d file(s) of dead workers' claims handed back", handed_back)
                    last_recovery = time.monotonic()
                names = self.folder.waiting(self.batch)
                if not names:
                    if once:
                        break
                    time.sleep(self.poll)
                    continue
                handled += self.take(names)
        return handled

    def take(self, names: list[str]) -> int:
        """Claim, handle, record and finish the files `names`; returns how many were handled."""
        claimed = [path for name in names if (path := self.folder.claim(name)) is not None]
        if not claimed:
            return 0
        done = self._recorded({path.name for path in claimed})
        for path in claimed:
            if path.name in done:
                self._finish(path, done[path.name])
        fresh = [path for path in claimed if path.name not in done]
        try:
            results = self._commit(fresh)
        except OperationalError as e:   # the database is busy or gone: the files wait
            db.session.rollback()
            log.warning("inbound: %d file(s) not recorded (%s); tried again later", len(fresh), e.orig)
            self._hand_back(fresh)
            return 0
        for path, result in results:
            self._finish(path, result)
        return len(results)

    def _recorded(self, names: set[str]) -> dict[str, Result]:
        rows = db.session.execute(db.select(InboundMessage.file_name, InboundMessage.handled,
                                            InboundMessage.detail)
                                  .where(InboundMessage.file_name.in_(names))).all()
        db.session.commit()
        return {name: Result(Handled(handled), detail) for name, handled, detail in rows}

    def _commit(self, paths: list[Path]) -> list[tuple[Path, Result]]:
        """Handle and record `paths` in one transaction, the members they name read in one
        query, no savepoint per file. Should a handler fail, or a row of them exist by now,
        the batch is rolled back and done again one transaction per file, each handler in a
        savepoint of its own: a failing file is then recorded as dropped with its error, and a
        recorded one is only finished. Returns what each became."""
        try:
            self._load_members(paths)
            results = [(path, self._record(path, alone=False)) for path in paths]
            db.session.commit()
            return results
        except (_HandlerFailed, IntegrityError):
            db.session.rollback()
        results = []
        for path in paths:
            result = self._record(path, alone=True)
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                result = self._recorded({path.name})[path.name]
            results.append((path, result))
        return results

    def _load_members(self, paths: list[Path]) -> None:
        """The members the files' return paths name, in one query (the session keeps them:
        each handler then finds its member without asking the database)."""
        recipients = []
        self._read = {}
        for path in paths:
            try:
                with open(path, "rb") as f:
                    data = f.read(KEPT_READ + 1)
                if len(data) <= KEPT_READ:   # the whole file: not read again to be handled
                    self._read[path] = data
                recipients += read_envelope(data[:ENVELOPE_HEAD])[1]
            except (OSError, ValueError):   # a malformed file: its handling says why
                continue
        ids = dispatch.members_named(recipients, self.webapp)
        # Held until the next batch: the session's identity map only keeps what is referenced.
        self._members = db.session.execute(db.select(User).where(User.id.in_(ids))).scalars().all() \
            if ids else []

    def _record(self, path: Path, *, alone: bool) -> Result:
        """Handle one file and add its row; what it became. `alone`: in a savepoint, a failing
        handler costing only its file; else a failing handler raises _HandlerFailed."""
        received_at = datetime.fromtimestamp(os.stat(path).st_mtime, UTC).replace(tzinfo=None)
        message_id = sender = ""
        try:
            with savepoint() if alone else nullcontext():
                drop = read_drop_file(path, self._read.pop(path, None))
                message_id, sender = str(drop.message.get("Message-ID", "")), drop.sender
                result = dispatch.take(drop, self.webapp)
        except MalformedMessage as e:   # raised before any change
            result = Result(Handled.DROPPED, f"not a message: {e}")
        except OperationalError:   # the database, not the file: the batch waits (take())
            raise
        except Exception as e:   # one file's surprise must not stop the folder: kept with the error
            if not alone:
                raise _HandlerFailed(path.name) from e
            log.exception("inbound %s: the handler failed", path.name)
            result = Result(Handled.DROPPED, f"the worker failed on it: {type(e).__name__}: {e}")
        db.session.add(InboundMessage(
            file_name=path.name, message_id=message_id[:500], sender=sender[:320],
            handled=result.handled, detail=result.detail[:1000], member_id=result.member_id,
            received_at=received_at))
        return result

    def _finish(self, path: Path, result: Result) -> None:
        """After the commit: the file is removed, or kept in badmail when it was dropped."""
        if result.handled == Handled.DROPPED:
            self.folder.to_badmail(path, result.detail)
        else:
            self.folder.remove(path)
        log.info("inbound %s: %s%s: %s", path.name, result.handled,
                 f" (member {result.member_id})" if result.member_id else "", result.detail)

    def _hand_back(self, paths: list[Path]) -> None:
        for path in paths:
            os.rename(path, self.folder.path / path.name)

