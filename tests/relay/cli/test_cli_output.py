"""What `relay show` and `relay list` print for people: readable whatever the file holds."""

from __future__ import annotations

import os

from relay.cli.common import shorten
from relay.queue.folders import BADMAIL, Queue
from settings import load_config
from tests.relay.relay_helpers import place_queued, relay_cli, relay_config_file


def test_show_escapes_a_binary_file_and_labels_the_reason_once(tmp_path):
    path = relay_config_file(tmp_path, 1)
    config = load_config(path)
    queue_id = place_queued(config, BADMAIL, reason="not a message that can be sent: junk")
    eml = next((config.relay.queue_dir / BADMAIL).glob(f"{queue_id}*.eml"))
    eml.write_bytes(b"Subject: \x1b[31mred\x1b[0m \x07bell\r\n\r\n" + os.urandom(64))
    shown = relay_cli(path, "show", queue_id)
    assert shown.exit_code == 0
    assert "\x1b" not in shown.output and "\x07" not in shown.output
    assert "Subject: \\x1b[31mred\\x1b[0m \\x07bell" in shown.output
    assert shown.output.count("reason") == 1


def test_list_cuts_a_long_error_at_a_word_with_an_ellipsis(tmp_path):
    assert shorten("451 4.7.1 Greylisted, please try again in five minutes from now", 30) == \
        "451 4.7.1 Greylisted, please…"
    assert shorten("short", 30) == "short"
    path = relay_config_file(tmp_path, 1)
    config = load_config(path)
    Queue.from_config(config).create()
    place_queued(config, "deferred", attempts=((451, "451 4.7.1 " + "very " * 30 + "long"),))
    listed = relay_cli(path, "list")
    assert "very very…" in listed.output
