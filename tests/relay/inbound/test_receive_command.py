"""`relay receive` as the unit runs it: a real process that says where it listens, takes mail,
and stops with exit 0 on SIGTERM; a config it cannot serve stops it at once with exit 2."""

from __future__ import annotations

import signal
import socket
import subprocess

from settings import load_config
from tests.configs import config_file
from tests.ports import free_port
from tests.relay.inbound.inbound_helpers import BOUNCE, client, dropped
from tests.relay.relay_helpers import RELAY_BIN, relay_cmd


def test_receive_stores_mail_and_stops_cleanly_on_sigterm(tmp_path):
    path = config_file(tmp_path, inbound={"domains": ["ours.test"], "dir": "var/drop",
                                          "listen": f"127.0.0.1:{free_port()}"})
    config = load_config(path)
    server = subprocess.Popen([str(RELAY_BIN), "--config", str(path), "receive"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        said = server.stdout.readline().decode()
        assert said == f"receive: mail for ours.test on {config.inbound.listen}, stored in " \
                       f"{tmp_path / 'var/drop'}\n"   # the drop folder was made
        with client(config) as smtp:
            assert smtp.sendmail("", ["bounces@ours.test"], BOUNCE) == {}
        assert len(dropped(config)) == 1
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert b" INFO stored " in server.stderr.read()   # a log line per message
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        server.stdout.close()
        server.stderr.close()


def test_no_domains_or_a_taken_address_stop_it_at_once_with_exit_2(tmp_path):
    bare = relay_cmd(config_file(tmp_path), "receive", timeout=30)
    assert bare.returncode == 2 and "[inbound] domains is empty" in bare.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = config_file(tmp_path, inbound={"domains": ["ours.test"], "listen": f"127.0.0.1:{port}"})
        busy = relay_cmd(path, "receive", timeout=30)
    assert busy.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port} ([inbound] listen): Address already in use" in busy.stderr
