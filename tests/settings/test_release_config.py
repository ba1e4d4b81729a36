"""[sink.release]: off by default, and a host without an allow-list (or with a wrong one) refused."""

from __future__ import annotations

import pytest

from settings import ConfigError, parse_config
from tests.configs import config_data


def release_table(tmp_path, **table):
    return parse_config(config_data(sink={"release": table}), base_dir=tmp_path, source=None).sink.release


def test_release_is_off_by_default_and_checks_certificates_when_on(tmp_path):
    assert release_table(tmp_path).host == ""
    on = release_table(tmp_path, host="smtp.example.org", allowed_recipients=["Me@Example.org"])
    assert (on.port, on.tls, on.verify, on.timeout) == (587, "starttls", True, 20.0)
    assert on.allowed_recipients == ("me@example.org",)


def test_a_host_without_allowed_recipients_is_refused_saying_what_to_write(tmp_path):
    with pytest.raises(ConfigError, match=r"\[sink.release\] allowed_recipients: required with host"):
        release_table(tmp_path, host="smtp.example.org")


@pytest.mark.parametrize("entry", ["Me <me@example.org>", "not a domain", "@example.org"])
def test_an_allowed_recipient_that_is_no_address_domain_or_star_is_refused(tmp_path, entry):
    with pytest.raises(ConfigError, match="is not an address like"):
        release_table(tmp_path, host="smtp.example.org", allowed_recipients=[entry])


def test_a_login_without_tls_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[sink.release\] username: AUTH needs TLS"):
        release_table(tmp_path, host="smtp.example.org", tls="none", username="me",
                      allowed_recipients=["*"])
