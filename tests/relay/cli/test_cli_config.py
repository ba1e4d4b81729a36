"""Every `relay` command takes --config before or after its name and says which config it used."""

from __future__ import annotations

import json
import subprocess

import click
import pytest

from relay.cli.main import main
from tests.relay.relay_helpers import RELAY_BIN, relay_cli, relay_config_file


@pytest.mark.parametrize("command", main.list_commands(click.Context(main)))
def test_every_sub_command_takes_config_after_its_name(command, tmp_path):
    shown = relay_cli(tmp_path / "unused.toml", command, "--help")
    assert shown.exit_code == 0 and "--config FILE" in shown.output


def test_config_after_the_sub_command_is_the_one_used(tmp_path):
    config = relay_config_file(tmp_path, 1)
    done = subprocess.run([str(RELAY_BIN), "status", "--json", "--no-smarthost", "--config",
                           str(config)], capture_output=True, text=True, timeout=30, check=False)
    assert json.loads(done.stdout)["config"] == str(config.resolve())


def test_status_run_from_a_folder_without_config_names_the_defaults_and_exits_1(tmp_path):
    done = subprocess.run([str(RELAY_BIN), "status", "--no-smarthost"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert done.stdout.startswith("config: embedded defaults")
    assert f"pickup folder {tmp_path}/pickup does not exist: is this the right config?" in done.stdout
    as_json = subprocess.run([str(RELAY_BIN), "status", "--json", "--no-smarthost"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=30, check=False)
    assert json.loads(as_json.stdout)["config"].startswith("embedded defaults")


def test_list_says_which_config_it_read(tmp_path):
    config = relay_config_file(tmp_path, 1)
    listed = relay_cli(config, "list", "--json")
    assert json.loads(listed.output)["config"] == str(config.resolve())
