"""One id from drop to delivery: what `relay drop` prints is what `relay show` and the log know."""

from __future__ import annotations

import logging
import re

from tests.relay.relay_helpers import (
    RunningRelay,
    relay_cli,
    relay_config,
    wait_until,
)


def test_the_id_drop_prints_is_the_one_show_and_the_delivery_log_know(tmp_path, upstream, config_path,
                                                                      config, caplog):
    upstream.faults.rcpt_replies["later@example.test"] = "451 4.7.1 Greylisted"
    message = tmp_path / "hi.eml"
    message.write_bytes(b"From: me@example.test\nTo: later@example.test\nSubject: hi\n\nhello\n")
    dropped = relay_cli(config_path, "drop", str(message))
    (queue_id,) = re.findall(r"/([0-9a-f]{24})\.eml", dropped.output)
    with caplog.at_level(logging.INFO, logger="relay"), RunningRelay(config) as relay:
        wait_until(lambda: relay.counts["deferred"] == 1, what="the message deferred")
    shown = relay_cli(config_path, "show", queue_id)
    assert shown.exit_code == 0 and f"id:         {queue_id}" in shown.output
    assert any(record.getMessage().startswith(f"{queue_id}: from=<me@example.test>")
               for record in caplog.records)


def test_a_name_already_queued_gets_a_new_id_and_both_messages_are_kept(tmp_path, upstream):
    upstream.faults.rcpt_replies["later@example.test"] = "451 4.7.1 Greylisted"
    config = relay_config(tmp_path, upstream.port, retry_schedule=["1h"])
    body = b"From: me@example.test\nTo: later@example.test\nSubject: %d\n\nhello\n"
    name = "0661576cd9a7bbc9fc7f9a2d.eml"
    with RunningRelay(config) as relay:
        for n in (1, 2):  # the same name dropped twice (a copied file)
            (config.pickup.dir / f".{name}.tmp").write_bytes(body % n)
            (config.pickup.dir / f".{name}.tmp").rename(config.pickup.dir / name)
            wait_until(lambda n=n: relay.counts["deferred"] == n, what=f"message {n} deferred")
    deferred = sorted(p.name for p in (config.relay.queue_dir / "deferred").iterdir())
    assert len(deferred) == 2 and name in deferred
