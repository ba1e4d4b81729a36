"""`relay status` and `relay check` with [inbound] set: the drop folder and the site's badmail in
it counted, what needs a human there, and the drop folder and listening address checked."""

from __future__ import annotations

import json
import os
import socket
import time

from relay.inbound.server import InboundServer
from relay.queue.folders import Queue
from settings import load_config
from tests.configs import config_file
from tests.ports import free_port
from tests.relay.inbound.inbound_helpers import BOUNCE
from tests.relay.relay_helpers import relay_cli, relay_config_file


def inbound_config_file(tmp_path, **inbound):
    table = {"domains": ["ours.test"], "dir": "drop", "listen": f"127.0.0.1:{free_port()}", **inbound}
    path = relay_config_file(tmp_path, 1)   # nothing listening on port 1
    path = config_file(tmp_path, relay=load_toml_relay(path), inbound=table)
    Queue.from_config(load_config(path)).create()   # the relay's own folders, as `relay run` makes them
    return path


def load_toml_relay(path):
    import tomllib
    return tomllib.loads(path.read_text())["relay"]


def drop_file(folder, name: str, age: float = 0.0):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"X-Sender: <>\r\nX-Receiver: <a@ours.test>\r\n" + BOUNCE)
    os.utime(path, (time.time() - age,) * 2)
    return path


def status_json(path):
    result = relay_cli(path, "status", "--json", "--no-smarthost")
    return result.exit_code, json.loads(result.output)


def test_status_counts_the_drop_folder_and_its_badmail_and_says_when_the_site_is_not_reading(tmp_path):
    path = inbound_config_file(tmp_path)
    drop = tmp_path / "drop"
    drop_file(drop, "0661f77d436d7486840e8a4d.eml")
    drop_file(drop, ".0661f77d436d7486840e8a4e.tmp")   # being written: not counted
    code, report = status_json(path)
    assert code == 0 and report["problems"] == []
    assert report["inbound"]["drop"]["count"] == 1 and report["inbound"]["drop/badmail"]["count"] == 0
    assert set(report["folders"]) == {"pickup", "active", "deferred", "hold", "badmail"}

    drop_file(drop, "0661f77d436d7486840e8a4f.eml", age=7200)
    drop_file(drop / "badmail", "0661f77d436d7486840e8a50.eml")
    code, report = status_json(path)
    assert code == 1 and report["inbound"]["drop"]["count"] == 2
    assert report["inbound"]["drop/badmail"]["count"] == 1
    assert [p.split(":")[0] for p in report["problems"]] == [
        "the drop folder's oldest message is 2.0h old (over 1h)",
        "the drop folder's badmail holds 1 message(s) the site could not handle"]
    assert "inbound-worker` running?" in report["problems"][0]
    table = relay_cli(path, "status", "--no-smarthost").output
    assert [line.split()[:2] for line in table.splitlines() if line.startswith("drop")] == [
        ["drop", "2"], ["drop/badmail", "1"]]


def test_without_inbound_domains_status_shows_no_drop_folder(tmp_path):
    code, report = status_json(relay_config_file(tmp_path, 1))
    assert report["inbound"] is None and "drop" not in relay_cli(
        relay_config_file(tmp_path, 1), "status", "--no-smarthost").output


def test_a_missing_drop_folder_is_a_problem_for_status_and_check(tmp_path):
    path = inbound_config_file(tmp_path)
    code, report = status_json(path)
    assert code == 1 and report["problems"][0].startswith(f"drop folder {tmp_path / 'drop'} does not exist")
    checked = relay_cli(path, "check", "--no-smarthost")
    assert checked.exit_code == 1
    assert f"PROBLEM  drop folder: {tmp_path / 'drop'} does not exist" in checked.output


def test_check_sees_relay_receive_answering_or_the_address_free_or_someone_else_there(tmp_path):
    path = inbound_config_file(tmp_path)
    (tmp_path / "drop").mkdir()
    config = load_config(path)
    free = relay_cli(path, "check", "--no-smarthost")
    assert f"ok       inbound listen {config.inbound.listen}: free: `relay receive` is not " \
           "running" in free.output
    with InboundServer(config.inbound):
        running = relay_cli(path, "check", "--no-smarthost").output
    assert f"ok       inbound listen {config.inbound.listen}: answers: 220 " in running
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        path = inbound_config_file(tmp_path, listen=f"127.0.0.1:{port}")
        taken = relay_cli(path, "check", "--no-smarthost")
    assert taken.exit_code == 1 and f"PROBLEM  inbound listen 127.0.0.1:{port}: " in taken.output


def test_check_refuses_a_drop_folder_others_may_read(tmp_path):
    path = inbound_config_file(tmp_path)
    (tmp_path / "drop").mkdir(mode=0o755)
    (tmp_path / "drop").chmod(0o755)
    checked = relay_cli(path, "check", "--no-smarthost")
    assert checked.exit_code == 1
    assert "PROBLEM  drop folder modes: " in checked.output and "chmod o-rwx" in checked.output
