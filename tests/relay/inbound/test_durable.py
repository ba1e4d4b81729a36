"""The drop folder written as the sender is promised: a message is stored whole before its 250,
and a disk that is full answers 451, leaves nothing behind, and takes the sender's retry once
there is space again (a real tmpfs, filled)."""

from __future__ import annotations

import os
import stat

import pytest

from relay.inbound.server import InboundServer
from relay.inbound.store import DropFolder, DropFolderError
from spooler.envelope import parse_pickup
from tests.relay.inbound.inbound_helpers import BOUNCE, client, dropped, inbound_config
from tests.relay.relay_helpers import fill_disk

REPORT = BOUNCE + (b"This line fills the returned message's copy of the original text.\r\n" * 200)


def test_a_full_disk_answers_451_leaves_nothing_and_the_retry_is_stored(tmp_path, small_disk):
    disk = small_disk(256)
    config = inbound_config(tmp_path, dir=str(disk / "drop"), max_message_size="1MB")
    ballast = fill_disk(disk)
    with InboundServer(config.inbound), client(config) as smtp:
        smtp.mail("<>")
        smtp.rcpt("bounces+t0k3n@ours.test")
        code, reply = smtp.data(REPORT)
        assert (code, reply) == (451, b"4.3.0 cannot store the message now: try again later")
        assert dropped(config) == []   # no .eml, no hidden temporary file
        ballast.unlink()
        assert smtp.sendmail("", ["bounces+t0k3n@ours.test"], REPORT) == {}   # the sender's retry
    [stored] = dropped(config)
    assert parse_pickup(stored.read_bytes()).content.endswith(REPORT)


def test_a_stored_file_is_the_sites_to_read_mode_0640_under_any_umask(tmp_path):
    config = inbound_config(tmp_path)
    old = os.umask(0o077)
    try:
        path = DropFolder(config.inbound.dir).store(DropFolder.new_id(), "", ["a@ours.test"],
                                                    b"", BOUNCE)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.name.endswith(".eml")


def test_a_missing_drop_folder_says_what_to_set(tmp_path):
    drop = DropFolder(tmp_path / "nowhere")
    with pytest.raises(DropFolderError) as failed:
        drop.store(drop.new_id(), "", ["a@ours.test"], b"", BOUNCE)
    assert str(failed.value) == (f"drop folder {tmp_path / 'nowhere'} does not exist: create it "
                                 "or set [inbound] dir in config.toml")
