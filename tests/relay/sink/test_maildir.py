"""relay.sink.maildir: the sink's Maildir, stored via tmp/, listed newest first, looked up, cleared."""

from __future__ import annotations

import os

from relay.sink.maildir import Maildir


def test_maildir_store_and_read_round_trip(tmp_path):
    maildir = Maildir(tmp_path / "md")
    assert {p.name for p in maildir.root.iterdir()} == {"tmp", "new", "cur"}
    first = maildir.store("a@example.test", ["x@example.test", "y@example.test"],
                          b"Subject: one\r\n\r\nfirst\r\n")
    second = maildir.store("", ["z@example.test"], b"Subject: two\n\nsecond\n")
    assert Maildir.read(first).recipients == ("x@example.test", "y@example.test")
    one, two = maildir.messages()  # oldest first
    assert (one.path, one.sender, one.content) == (first, "a@example.test",
                                                   b"Subject: one\n\nfirst\n")
    assert (two.path, two.sender, two.recipients) == (second, "", ("z@example.test",))
    assert two.content == b"Subject: two\n\nsecond\n"
    assert maildir.count() == 2


def test_maildir_on_an_existing_folder_keeps_its_messages(tmp_path):
    Maildir(tmp_path / "md").store("a@example.test", ["b@example.test"], b"Subject: s\n\nx\n")
    assert Maildir(tmp_path / "md").count() == 1



def stored_at(maildir: Maildir, second: int, subject: str) -> str:
    """A message stored as if received at `second` (its mtime); its name."""
    path = maildir.store("a@example.test", ["b@example.test"], f"Subject: {subject}\n\nx\n".encode())
    os.utime(path, ns=(second * 10**9, second * 10**9))
    return path.name


def test_find_gives_a_message_by_name_and_nothing_for_other_names(tmp_path):
    maildir = Maildir(tmp_path / "md")
    name = stored_at(maildir, 1_000, "s")
    (maildir.root / "tmp" / "writing").write_bytes(b"half")
    (maildir.root / "new" / ".hidden").write_bytes(b"x")
    assert maildir.find(name) == maildir.root / "new" / name
    for other in ("", "../tmp/writing", "writing", ".hidden", "..", f"{name}/x", "nul\0l"):
        assert maildir.find(other) is None, other


def test_clear_removes_every_message_but_leaves_one_being_written(tmp_path):
    maildir = Maildir(tmp_path / "md")
    for second in range(3):
        stored_at(maildir, 1_000 + second, str(second))
    (maildir.root / "tmp" / "arriving").write_bytes(b"Subject: half\n")
    assert maildir.clear() == 3
    assert maildir.count() == 0
    assert (maildir.root / "tmp" / "arriving").exists()
