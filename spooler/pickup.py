"""Write one message atomically into the pickup folder.

Writes `.ID.tmp` (a name the relay ignores) with O_EXCL, fsyncs it, renames
it to `ID.eml` (or `ID.bulk.eml`), then fsyncs the folder: a reader never sees
half a file, and after power loss a message is either whole or absent.
Reads [pickup] dir and [relay] max_message_size. Fails with PickupError (folder
missing or not writable, disk full, too large) and never leaves a partial
`*.eml` behind: the temporary file is removed on every failure.
"""

from __future__ import annotations

import errno
import os
from copy import deepcopy
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from spooler.envelope import envelope_lines, header_envelope
from spooler.message import OutgoingMessage
from spooler.names import TRANSACTIONAL, message_name, new_queue_id

# Readable by the pickup folder's group (the relay's, via the folder's setgid bit), never by
# others, and never writable by anyone but its writer (see docs/production.md).
PICKUP_FILE_MODE = 0o640


class PickupError(Exception):
    """The message could not be placed in pickup; nothing was left there."""


class MessageTooLarge(PickupError):
    pass


class PickupWriter:
    """Places messages in one pickup folder. Cheap to create; safe to share between threads.

    A writer for another folder of whole files (the relay's drop folder) is a subclass that
    names its folder and setting for the errors (FOLDER, FOLDER_KEY)."""

    FOLDER = "pickup folder"
    FOLDER_KEY = "[pickup] dir"

    def __init__(self, pickup_dir: str | os.PathLike, *, durable: bool = True,
                 max_size: int | None = None):
        self.dir = Path(pickup_dir)
        self.durable = durable
        self.max_size = max_size

    def write(self, message: OutgoingMessage | EmailMessage | bytes, *,
              sender: str | None = None, recipients: list[str] | tuple[str, ...] | None = None,
              priority: str = TRANSACTIONAL) -> Path:
        """Write `message` to pickup and return its final path.

        The envelope (sender, recipients) is taken from the arguments, else from an
        OutgoingMessage, else from an EmailMessage's headers (Bcc moves into the
        envelope); raw bytes without one are written as they are.
        """
        return self.write_bytes(self._content_with_envelope(message, sender, recipients),
                                priority=priority)

    def check_size(self, data: bytes) -> None:
        """The one size rule of every writer: over max_size is refused, as the relay would
        refuse it. Raises MessageTooLarge."""
        if self.max_size is not None and len(data) > self.max_size:
            raise MessageTooLarge(f"larger than the {self.max_size:,}-byte limit ([relay] max_message_size)")

    def write_bytes(self, data: bytes, *, priority: str = TRANSACTIONAL,
                    queue_id: str | None = None) -> Path:
        """Place ready pickup-format bytes (envelope lines included, if any) as `queue_id`'s file
        (default: a new id).

        A file over max_size is refused (MessageTooLarge, nothing written)."""
        self.check_size(data)
        queue_id = queue_id or new_queue_id()
        final = self.dir / message_name(queue_id, priority)
        temp = self.dir / f".{queue_id}.tmp"
        self._write_temp(temp, data)
        try:
            os.rename(temp, final)
        except OSError as e:
            unlink_quietly(temp)
            raise PickupError(self._explain(e)) from e
        if self.durable:
            try:
                self._fsync_dir()
            except OSError:
                # The message is in place and its data synced; raising now would make a
                # caller write it twice. Only the folder entry's durability is in doubt.
                pass
        return final

    def rehearse(self, message: OutgoingMessage) -> None:
        """Do the work of write() (render to bytes, write, fsync, rename, fsync the folder)
        and throw the file away.

        For answers that must not reveal by their timing whether a mail was sent
        (a password reset for an unknown address). The file only ever has names the
        relay ignores (a leading dot).
        """
        data = self._content_with_envelope(message, None, None)
        queue_id = new_queue_id()
        temp = self.dir / f".{queue_id}.tmp"
        renamed = self.dir / f".{queue_id}.rehearsal"
        self._write_temp(temp, data)
        try:
            os.rename(temp, renamed)
            if self.durable:
                try:
                    self._fsync_dir()
                except OSError:
                    pass  # as in write_bytes: only the folder entry's durability was in doubt
        except OSError as e:
            raise PickupError(self._explain(e)) from e
        finally:
            unlink_quietly(temp)
            unlink_quietly(renamed)

    def _write_temp(self, temp: Path, data: bytes) -> None:
        """Create `temp` (O_EXCL), write all of `data`, fsync it; on any failure remove it."""
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PICKUP_FILE_MODE)
        except OSError as e:
            raise PickupError(self._explain(e)) from e
        try:
            try:
                os.fchmod(fd, PICKUP_FILE_MODE)  # whatever the umask: the relay's group reads it
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException as e:
            unlink_quietly(temp)
            if isinstance(e, OSError):
                raise PickupError(self._explain(e)) from e
            raise

    def _fsync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _content_with_envelope(self, message, sender, recipients) -> bytes:
        if isinstance(message, OutgoingMessage):
            sender = message.sender if sender is None else sender
            recipients = message.recipients if recipients is None else recipients
            content = message.content
        elif isinstance(message, EmailMessage):
            from_headers, to_headers = header_envelope(message)
            recipients = to_headers if recipients is None else recipients
            sender = from_headers if sender is None else sender
            if "Bcc" in message:  # the envelope carries Bcc; the header must not travel
                message = _copy_without_bcc(message)
            content = message.as_bytes(policy=SMTP)
        elif isinstance(message, bytes | bytearray | memoryview):
            content = bytes(message)
        else:
            raise TypeError(f"cannot write a {type(message).__name__} to pickup")
        if recipients is None:
            return content
        return envelope_lines(sender or "", list(recipients)) + content

    def _explain(self, error: OSError) -> str:
        return explain(self.dir, error, self.FOLDER, self.FOLDER_KEY)


def explain(folder: Path, error: OSError, what: str = PickupWriter.FOLDER,
            key: str = PickupWriter.FOLDER_KEY) -> str:
    """What an OSError on the pickup folder (or `what`, set by `key`) means, in words a
    sysadmin can act on."""
    where = f"{what} {folder}"
    if error.errno == errno.ENOENT:
        return f"{where} does not exist: create it or set {key} in config.toml"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where} is not writable by this user ({error.strerror})"
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"{where}: no space left for the message ({error.strerror}); nothing was written"
    if error.errno == errno.ENOTDIR:
        return f"{where} is not a folder"
    return f"{where}: {error.strerror or error}"


def _copy_without_bcc(message: EmailMessage) -> EmailMessage:
    copy = deepcopy(message)
    del copy["Bcc"]
    return copy


def unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
