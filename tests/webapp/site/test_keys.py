"""The signing key: made safe on first run, refused at start when short, empty or exposed."""

from __future__ import annotations

import stat

import pytest

from settings import ConfigError
from webapp import create_app
from webapp.site.keys import ENV_VAR


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def key_file(config):
    return config.webapp.secret_key_file


def test_the_first_start_makes_a_long_key_readable_by_its_owner_only(config):
    create_app(config)
    path = key_file(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) >= 32


@pytest.mark.parametrize("content, words", [("", "is empty"), ("short secret\n", "only 12 bytes")])
def test_an_empty_or_short_key_file_stops_the_site_at_start(config, content, words):
    path = key_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=rf"{words}; it must be at least 32 random bytes") as e:
        create_app(config)
    assert str(path) in str(e.value) and "token_urlsafe" in str(e.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620])
def test_a_key_file_others_or_its_group_can_read_or_change_stops_the_site_at_start(config, mode):
    path = key_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("k" * 64)
    path.chmod(mode)
    with pytest.raises(ConfigError, match=rf"read or changed by its group or others .*chmod 600 {path}"):
        create_app(config)


def test_a_short_key_in_the_environment_stops_the_site_at_start(config, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "not-long-enough")
    with pytest.raises(ConfigError, match=rf"\${ENV_VAR} is only 15 bytes"):
        create_app(config)


def test_a_long_key_in_the_environment_is_used(config, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "e" * 40)
    assert create_app(config).config["SECRET_KEY"] == "e" * 40
    assert not key_file(config).exists()
