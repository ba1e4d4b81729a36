"""replace_file and create_file on real files: the mode whatever the umask, the old file kept on a
full disk, no temporary file left behind, no link followed at the target or the temporary name."""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager

import pytest

from channel import files
from channel.files import create_file, replace_file


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def names(folder) -> list[str]:
    return sorted(os.listdir(folder))


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode)


def test_the_new_content_replaces_the_old_whole_with_its_mode_under_a_hostile_umask(tmp_path):
    path = tmp_path / "status.json"
    path.write_text("old")
    with umask(0o777):
        replace_file(path, b"new", 0o640)
    assert path.read_bytes() == b"new" and mode_of(path) == 0o640
    with umask(0o000):
        replace_file(path, b"newer", 0o600)
    assert path.read_bytes() == b"newer" and mode_of(path) == 0o600
    assert names(tmp_path) == ["status.json"]


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary_file(small_disk):
    disk = small_disk(64)
    path = disk / "status.json"
    replace_file(path, b"the last whole status", 0o640)
    with pytest.raises(OSError) as raised:
        replace_file(path, b"x" * 512 * 1024, 0o640)   # part of it fits: a short write first
    assert raised.value.errno in (errno.ENOSPC, errno.EDQUOT)
    assert path.read_bytes() == b"the last whole status"
    assert names(disk) == ["status.json"]


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("not yours")
    path = tmp_path / "status.json"
    path.symlink_to(elsewhere)
    replace_file(path, b"new", 0o640)
    assert not path.is_symlink() and path.read_bytes() == b"new"
    assert elsewhere.read_text() == "not yours"


def test_a_link_planted_at_the_temporary_name_is_not_followed(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("not yours")
    path = tmp_path / "status.json"
    planted = tmp_path / ".status.json.aaaa.tmp"
    planted.symlink_to(elsewhere)
    tokens = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(files.secrets, "token_hex", lambda _n: next(tokens))
    replace_file(path, b"new", 0o640)
    assert path.read_bytes() == b"new" and elsewhere.read_text() == "not yours"
    assert planted.is_symlink()   # someone else's: left alone
    assert names(tmp_path) == [".status.json.aaaa.tmp", "elsewhere", "status.json"]


def test_when_every_temporary_name_is_taken_it_fails_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    path.write_text("old")
    (tmp_path / ".status.json.aaaa.tmp").write_text("someone's")
    monkeypatch.setattr(files.secrets, "token_hex", lambda _n: "aaaa")
    with pytest.raises(FileExistsError):
        replace_file(path, b"new", 0o640)
    assert path.read_text() == "old"


def test_a_failed_rename_removes_the_temporary_file(tmp_path):
    path = tmp_path / "status.json"
    path.mkdir()
    (path / "keeps it from being replaced").write_text("")
    with pytest.raises(OSError):
        replace_file(path, b"new", 0o640)
    assert names(tmp_path) == ["status.json"]


def test_fsync_syncs_the_data_before_the_rename(tmp_path, monkeypatch):
    done = []
    real_fsync, real_rename = os.fsync, os.rename
    monkeypatch.setattr(files.os, "fsync", lambda fd: (done.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(files.os, "rename", lambda a, b: (done.append("rename"), real_rename(a, b))[1])
    replace_file(tmp_path / "request.json", b"{}", 0o640, fsync=True)
    replace_file(tmp_path / "status.json", b"{}", 0o640)
    assert done == ["fsync", "rename", "rename"]


def test_create_file_makes_it_once_and_the_first_writer_wins(tmp_path):
    path = tmp_path / "secret.key"
    with umask(0o022):
        create_file(path, b"first", 0o600, fsync=True)
    with pytest.raises(FileExistsError):
        create_file(path, b"second", 0o600)
    assert path.read_bytes() == b"first" and mode_of(path) == 0o600
    assert names(tmp_path) == ["secret.key"]
