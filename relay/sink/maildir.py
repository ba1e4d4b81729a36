"""The sink's Maildir: store whole messages in `new/` via `tmp/`, list, read and clear them.

A message is one file in `<root>/new/`, named `<time_ns>.P<pid>Q<n>.<host>`, holding the
envelope as `X-Envelope-From:` and `X-Envelope-To:` lines on top of the message as received
(line ends made LF). Written by the sink (relay/sink/server.py), read by the tests and the web inbox
(relay/sink/inbox.py). Trusts nothing in a file; a name is only ever looked up, never joined to a
path unchecked. Reads [sink] maildir (through its callers).
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

_counter = itertools.count()


@dataclass(frozen=True)
class StoredMessage:
    path: Path
    sender: str
    recipients: tuple[str, ...]
    content: bytes   # the message as received, without the envelope lines, LF line ends


@dataclass(frozen=True)
class Listed:
    """One file of new/ as a listing sees it: no byte of it read yet."""
    name: str
    path: Path
    received_ns: int   # the file's mtime: when the sink stored it
    size: int


class Maildir:
    """The `new/` side of a Maildir: write whole files via `tmp/`, read them back."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        for sub in ("tmp", "new", "cur"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")

    def store(self, sender: str, recipients: list[str], content: bytes) -> Path:
        name = f"{time.time_ns()}.P{os.getpid()}Q{next(_counter)}.{self._host}"
        envelope = f"X-Envelope-From: <{sender}>\n" + "".join(
            f"X-Envelope-To: <{r}>\n" for r in recipients)
        data = envelope.encode("utf-8") + content.replace(b"\r\n", b"\n")
        temp = self.root / "tmp" / name
        temp.write_bytes(data)
        final = self.root / "new" / name
        os.rename(temp, final)  # readers of new/ never see half a message
        return final

    def messages(self) -> list[StoredMessage]:
        """Every message in new/, oldest first."""
        return [self.read(p) for p in sorted((self.root / "new").iterdir())]

    def count(self) -> int:
        return sum(1 for _ in os.scandir(self.root / "new"))

    def find(self, name: str) -> Path | None:
        """The file of the message called `name`, or None when there is no such message."""
        if not name or name.startswith(".") or "/" in name or "\0" in name:
            return None
        path = self.root / "new" / name
        return path if path.is_file() else None

    def message(self, name: str) -> tuple[StoredMessage, int] | None:
        """The message called `name` and when it was received (mtime, ns); None when there is
        none, or it was deleted meanwhile."""
        path = self.find(name)
        if path is None:
            return None
        try:
            return Maildir.read(path), path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def clear(self) -> int:
        """Remove every message in new/ and say how many went; tmp/ (a message being written)
        is left alone, so a message arriving meanwhile is kept whole."""
        removed = 0
        for listed in self.listing():
            try:
                listed.path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed

    def listing(self) -> list[Listed]:
        """Every message in new/, in no order, without reading one."""
        listed = []
        with os.scandir(self.root / "new") as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # cleared while we looked
                listed.append(Listed(entry.name, Path(entry.path), st.st_mtime_ns, st.st_size))
        return listed

    @staticmethod
    def read(path: Path) -> StoredMessage:
        return _split_envelope(path, path.read_bytes())


def _split_envelope(path: Path, data: bytes) -> StoredMessage:
    sender, recipients, offset = "", [], 0
    while True:
        end = data.find(b"\n", offset)
        name, _, value = data[offset:end if end >= 0 else len(data)].partition(b": ")
        if name not in (b"X-Envelope-From", b"X-Envelope-To") or end < 0:
            break
        address = value.decode("utf-8", "replace").strip("<>")
        if name == b"X-Envelope-From":
            sender = address
        else:
            recipients.append(address)
        offset = end + 1
    return StoredMessage(path, sender, tuple(recipients), data[offset:])
