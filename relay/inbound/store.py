"""The drop folder, written: each inbound message as one file, durably, or not at all.

A drop file is in the pickup format (docs/queue.md): X-Sender (the MAIL FROM, <> for the null
sender) and one X-Receiver per accepted recipient at the very top, then this host's Received:
line, then the message as it arrived (CRLF line ends). It is named `<queue id>.eml`
(spooler.names) and placed by spooler.pickup's writer (DropWriter names the drop folder in its
errors): written under a hidden temporary name with O_EXCL, fsynced, renamed, and the folder
fsynced, all before store() returns; a failure (a full disk, a missing folder) removes the
temporary file and raises DropFolderError, which says what to fix. Files are mode 0640; the
drop folder's setgid group is the relay's, which the site's user is in (contrib/install-layout.sh).

Reads [inbound] dir. Refuses (MessageRefused) content the site could not read
(relay.inbound.policy.content_refusal) before writing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from relay.inbound.policy import Refusal, content_refusal
from spooler.envelope import envelope_lines
from spooler.names import new_queue_id
from spooler.pickup import PickupError, PickupWriter

# Where the site keeps the drop files it could not handle (webapp/inbound): `relay status` counts it.
BADMAIL_FOLDER = "badmail"


class DropFolderError(Exception):
    """The message cannot be stored now (nothing was left in the drop folder): the sender
    should try again later. str() says what is wrong and what to do."""


class MessageRefused(Exception):
    """The message is not taken, ever; `refusal` says why in SMTP's and sendmail's words."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.text)
        self.refusal = refusal


class DropWriter(PickupWriter):
    """spooler.pickup's atomic, durable writer, aimed at the drop folder."""

    FOLDER = "drop folder"
    FOLDER_KEY = "[inbound] dir"


class DropFolder:
    """Stores messages in one drop folder. Safe to share between threads."""

    def __init__(self, folder: str | os.PathLike, *, durable: bool = True):
        self.dir = Path(folder)
        self._writer = DropWriter(self.dir, durable=durable)

    @staticmethod
    def new_id() -> str:
        """The queue id of the next message: its file name, and the id its Received: line gives."""
        return new_queue_id()

    def store(self, queue_id: str, sender: str, recipients: list[str], trace: bytes,
              content: bytes) -> Path:
        """Write one message for `recipients` as `queue_id`.eml; return its path once it and
        the folder are on disk. MessageRefused: content the site cannot read (nothing written);
        DropFolderError: it cannot be written now (nothing left)."""
        data = envelope_lines(sender, recipients) + trace + content
        refusal = content_refusal(data)
        if refusal is not None:
            raise MessageRefused(refusal)
        try:
            return self._writer.write_bytes(data, queue_id=queue_id)
        except PickupError as e:
            raise DropFolderError(str(e)) from e
