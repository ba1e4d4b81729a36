"""settings.load_config: config.toml -> typed dataclasses, and errors that say where and what."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import ENV_VAR, ConfigError, load_config
from tests.configs import write_toml


@pytest.fixture(autouse=True)
def no_config_env(monkeypatch):
    """Each test starts without $PICKUP_RELAY_CONFIG, whatever the caller's shell has."""
    monkeypatch.delenv(ENV_VAR, raising=False)


def load_text(tmp_path: Path, text: str):
    return load_config(write_toml(tmp_path, text))


def config_error(tmp_path: Path, text: str) -> str:
    path = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message, f"error does not name the file: {message}"
    return message


# --- where the config comes from -------------------------------------------------------------

def test_no_file_at_the_default_path_gives_the_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.path is None
    assert config.base_dir.resolve() == tmp_path.resolve()
    assert config.pickup.dir.resolve() == (tmp_path / "pickup").resolve()
    assert config.relay.queue_dir.resolve() == (tmp_path / "var/queue").resolve()
    assert config.relay.connections == 4
    assert config.relay.retry_schedule == (60, 300, 900, 1800, 3600, 7200)
    assert config.relay.max_lifetime == 2 * 86400
    assert config.relay.max_message_size == 25_000_000
    assert config.relay.archive is False
    assert config.relay.log_file is None
    assert config.relay.smarthost.host == "127.0.0.1"
    assert config.relay.smarthost.port == 2525
    assert config.relay.smarthost.tls == "none"
    assert config.sink.port == 2525
    assert config.sink.web_port == 8025
    assert config.webapp.mail_from == "Q&A <noreply@example.test>"


def test_config_toml_in_the_current_folder_is_read_by_default(tmp_path, monkeypatch):
    write_toml(tmp_path, "[relay]\nconnections = 7\n")
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.relay.connections == 7
    assert config.path == Path("config.toml")


def test_env_var_names_the_config_file(tmp_path, monkeypatch):
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    (elsewhere / "relay.toml").write_text("[relay]\nconnections = 9\n")
    write_toml(tmp_path, "[relay]\nconnections = 7\n")  # ./config.toml loses to the env var
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(elsewhere / "relay.toml"))
    assert load_config().relay.connections == 9


def test_explicit_path_wins_over_the_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.toml"))
    path = write_toml(tmp_path, "[relay]\nconnections = 3\n")
    assert load_config(path).relay.connections == 3


def test_explicit_missing_file_is_an_error_naming_the_file(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="no such config file") as caught:
        load_config(missing)
    assert str(missing) in str(caught.value)


def test_env_var_naming_a_missing_file_is_an_error_not_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, "gone.toml")
    with pytest.raises(ConfigError, match="gone.toml: no such config file"):
        load_config()


def test_relative_paths_resolve_against_the_config_folder_not_cwd(tmp_path, monkeypatch):
    etc = tmp_path / "etc"
    etc.mkdir()
    write_toml(etc, '[pickup]\ndir = "spool/pickup"\n'
                    '[relay]\nqueue_dir = "spool/queue"\nlog_file = "log/relay.log"\n'
                    '[sink]\nmaildir = "/srv/sink"\n')
    cwd = tmp_path / "somewhere_else"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    config = load_config("../etc/config.toml")
    base = etc.resolve()
    assert config.base_dir == base
    assert config.pickup.dir == base / "spool/pickup"
    assert config.relay.queue_dir == base / "spool/queue"
    assert config.relay.log_file == base / "log/relay.log"
    assert config.sink.maildir == Path("/srv/sink")  # absolute stays absolute


def test_durations_and_sizes_are_read_in_people_units(tmp_path):
    config = load_text(tmp_path, """
[relay]
retry_schedule = ["90s", "5m", "2h", "2d"]
max_lifetime = "2d"
badmail_max_age = "90s"
max_message_size = "10MiB"
[relay.smarthost]
timeout = "5m"
rate_limit = "50/s"
""")
    assert config.relay.retry_schedule == (90, 300, 7200, 172800)
    assert config.relay.max_lifetime == 172800
    assert config.relay.badmail_max_age == 90
    assert config.relay.max_message_size == 10 * 1024 * 1024
    assert config.relay.smarthost.timeout == 300
    assert config.relay.smarthost.rate_limit == "50/s"
    assert load_text(tmp_path, '[relay]\nmax_message_size = "25MB"\n'
                     ).relay.max_message_size == 25_000_000


def test_smart_host_timeouts_default_to_rfc_5321_and_zero_is_refused(tmp_path):
    host = load_text(tmp_path, "").relay.smarthost
    assert (host.timeout, host.command_timeout, host.data_timeout) == (30, 300, 600)
    message = config_error(tmp_path, '[relay.smarthost]\ndata_timeout = "0s"\n')
    assert "[relay.smarthost] data_timeout" in message and "no time at all" in message


def test_session_lifetime_and_an_optional_idle_timeout_are_durations(tmp_path):
    defaults = load_text(tmp_path, "")
    assert defaults.webapp.session_lifetime == 14 * 86400
    assert defaults.webapp.session_idle_timeout is None
    config = load_text(tmp_path, '[webapp]\nsession_lifetime = "2d"\nsession_idle_timeout = "30m"\n')
    assert (config.webapp.session_lifetime, config.webapp.session_idle_timeout) == (172800, 1800)
    with pytest.raises(ConfigError, match=r"\[webapp\] session_idle_timeout"):
        load_text(tmp_path, '[webapp]\nsession_idle_timeout = "soon"\n')


def test_config_is_frozen(tmp_path):
    config = load_text(tmp_path, "")
    with pytest.raises(AttributeError):
        config.relay.connections = 10


# --- errors name the file, the table and the key ---------------------------------------------

def test_unknown_top_level_table_names_file_and_table(tmp_path):
    message = config_error(tmp_path, "[smtp]\nhost = 'x'\n")
    assert "unknown key 'smtp'" in message


def test_unknown_key_in_relay_names_file_table_and_key(tmp_path):
    message = config_error(tmp_path, "[relay]\nconections = 4\n")
    assert "[relay] unknown key 'conections'" in message
    assert "connections" in message  # the known keys help spot the typo


def test_unknown_key_in_smarthost_names_file_and_key(tmp_path):
    message = config_error(tmp_path, "[relay.smarthost]\nhostname = 'mx.example.test'\n")
    assert "[relay.smarthost] unknown key 'hostname'" in message


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [('[relay.smarthost]\nport = "25"\n', "[relay.smarthost] port", "an integer"),
     ('[relay]\narchive = "yes"\n', "[relay] archive", "true or false"),
     ("[relay]\nconnections = true\n", "[relay] connections", "an integer"),
     ("[sink]\nhost = 127\n", "[sink] host", "a string"),
     ('[pickup]\ndir = ["a"]\n', "[pickup] dir", "a string")],
    ids=["port-string", "archive-string", "connections-bool", "host-int", "dir-list"],
)
def test_wrong_type_names_table_key_and_expected_type(tmp_path, text, where, expected):
    message = config_error(tmp_path, text)
    assert where in message
    assert f"expected {expected}" in message


def test_out_of_range_numbers_are_refused(tmp_path):
    assert "[relay.smarthost] port" in config_error(tmp_path, "[relay.smarthost]\nport = 70000\n")
    assert "[relay] connections" in config_error(tmp_path, "[relay]\nconnections = 0\n")


def test_sink_web_port_zero_turns_the_inbox_off_and_a_port_out_of_range_is_refused(tmp_path):
    assert load_config(write_toml(tmp_path, "[sink]\nweb_port = 0\n")).sink.web_port == 0
    assert "[sink] web_port: 70000 is outside 0..65535" in config_error(
        tmp_path, "[sink]\nweb_port = 70000\n")


def test_table_given_as_a_value_is_refused(tmp_path):
    assert "[relay.smarthost] must be a table" in config_error(
        tmp_path, '[relay]\nsmarthost = "mx.example.test"\n')


def test_bad_duration_in_retry_schedule_names_its_index(tmp_path):
    message = config_error(tmp_path, '[relay]\nretry_schedule = ["1m", "5m", "5 minutes"]\n')
    assert "[relay] retry_schedule[2]" in message
    assert "'5 minutes' is not a duration" in message


def test_empty_retry_schedule_is_refused(tmp_path):
    assert "[relay] retry_schedule" in config_error(tmp_path, "[relay]\nretry_schedule = []\n")


def test_bad_duration_names_the_key(tmp_path):
    message = config_error(tmp_path, '[relay]\nmax_lifetime = "two days"\n')
    assert "[relay] max_lifetime" in message and "two days" in message


def test_bad_size_names_the_key(tmp_path):
    message = config_error(tmp_path, '[relay]\nmax_message_size = "25 megs"\n')
    assert "[relay] max_message_size" in message and "is not a size" in message


# A wrong TOML type is a ConfigError naming the key, never a traceback.
@pytest.mark.parametrize(
    ("text", "where"),
    [('[relay]\nmax_lifetime = ["2d"]\n', "[relay] max_lifetime"),
     ("[relay]\nmax_message_size = 1.5\n", "[relay] max_message_size"),
     ('[relay]\nretry_schedule = ["1m", ["5m"]]\n', "[relay] retry_schedule[1]")],
    ids=["list-duration", "float-size", "list-in-schedule"],
)
def test_duration_or_size_of_the_wrong_type_is_a_config_error(tmp_path, text, where):
    assert where in config_error(tmp_path, text)


@pytest.mark.parametrize("rate", ["fast", "50", "50/week", "0/s", "-5/s"])
def test_bad_rate_limit_names_the_key(tmp_path, rate):
    message = config_error(tmp_path, f'[relay.smarthost]\nrate_limit = "{rate}"\n')
    assert "[relay.smarthost] rate_limit" in message and "is not a rate" in message


def test_bad_tls_choice_lists_the_choices(tmp_path):
    message = config_error(tmp_path, '[relay.smarthost]\ntls = "ssl"\n')
    assert "[relay.smarthost] tls" in message
    assert "none, starttls, tls" in message


def test_bad_log_level_lists_the_choices(tmp_path):
    assert "[relay] log_level" in config_error(tmp_path, '[relay]\nlog_level = "loud"\n')


def test_invalid_toml_names_the_file(tmp_path):
    message = config_error(tmp_path, "[relay\nconnections = 4\n")
    assert "not valid TOML" in message


def test_smart_host_tls_and_auth_keys_are_read_with_paths_beside_the_config(tmp_path):
    config = load_text(tmp_path, """
[relay.smarthost]
tls = "starttls"
ca_file = "certs/ca.pem"
tls_name = "mail.example.test"
verify = false
username = "relay"
password_file = "secrets/smarthost.password"
""")
    host = config.relay.smarthost
    assert host.ca_file == tmp_path.resolve() / "certs/ca.pem"
    assert host.password_file == tmp_path.resolve() / "secrets/smarthost.password"
    assert (host.tls_name, host.verify, host.allow_plaintext_auth) == ("mail.example.test", False, False)


def test_smart_host_defaults_verify_and_refuse_plaintext_auth(tmp_path):
    host = load_text(tmp_path, "").relay.smarthost
    assert host.verify is True and host.allow_plaintext_auth is False
    assert host.ca_file is None and host.password_file is None and host.tls_name == ""


def test_password_env_and_password_file_together_is_a_config_error(tmp_path):
    message = config_error(tmp_path, '[relay.smarthost]\npassword_env = "PW"\n'
                                     'password_file = "pw"\n')
    assert "[relay.smarthost] password_file" in message and "not both" in message


@pytest.mark.parametrize("shipped", ["config.toml", "contrib/config.production.toml"])
def test_the_shipped_config_files_load(shipped):
    assert load_config(Path(__file__).parents[2] / shipped).relay.smarthost.verify is True


def test_delivery_reports_are_off_by_default_and_report_from_must_be_a_bare_address(tmp_path):
    relay = load_config(write_toml(tmp_path, "[relay]\n")).relay
    assert relay.delivery_reports is False and relay.report_from == ""
    message = config_error(tmp_path, '[relay]\nreport_from = "Bounces <bounces@example.org>"\n')
    assert "[relay] report_from" in message and "not an address" in message


# --- [inbound] ------------------------------------------------------------------------------

def test_inbound_defaults_receive_nothing_until_domains_are_set(tmp_path):
    inbound = load_text(tmp_path, "").inbound
    assert inbound.domains == () and inbound.listen == "127.0.0.1:2526"
    assert inbound.dir == tmp_path / "var/drop" and inbound.max_message_size == 25_000_000
    assert (inbound.tls_cert, inbound.tls_key, inbound.client_message_rate) == (None, None, "300/m")
    assert inbound.timeout == 300


def test_inbound_domains_are_kept_lowercase_once_and_must_be_domain_names(tmp_path):
    domains = '["Example.ORG", "example.org", "xn--bcher-kva.test"]'
    inbound = load_text(tmp_path, f"[inbound]\ndomains = {domains}\n").inbound
    assert inbound.domains == ("example.org", "xn--bcher-kva.test")
    for bad in ('["@example.org"]', '["example"]', '["a b.org"]', '["-x.org"]'):
        message = config_error(tmp_path, f"[inbound]\ndomains = {bad}\n")
        assert "[inbound] domains" in message and "not a domain name" in message
    assert "[inbound] domains" in config_error(tmp_path, '[inbound]\ndomains = "example.org"\n')


@pytest.mark.parametrize("listen", ["127.0.0.1", "2526", "127.0.0.1:0", "127.0.0.1:65536", "::1:25",
                                    "[::1]", ":25", "127.0.0.1:25x"])
def test_inbound_listen_must_be_an_address_and_port(tmp_path, listen):
    message = config_error(tmp_path, f'[inbound]\nlisten = "{listen}"\n')
    assert "[inbound] listen" in message and "not an address to listen on" in message


def test_inbound_listen_takes_ipv6_in_brackets(tmp_path):
    assert load_text(tmp_path, '[inbound]\nlisten = "[::]:25"\n').inbound.listen == "[::]:25"


def test_inbound_certificate_and_key_go_together_and_limits_must_agree(tmp_path):
    assert "tls_key" in config_error(tmp_path, '[inbound]\ntls_cert = "mx.pem"\n')
    assert "tls_cert" in config_error(tmp_path, '[inbound]\ntls_key = "mx.key"\n')
    message = config_error(tmp_path, "[inbound]\nconnections = 5\nclient_connections = 6\n")
    assert "[inbound] client_connections" in message and "more than connections (5)" in message
    assert "[inbound] client_message_rate" in config_error(
        tmp_path, '[inbound]\nclient_message_rate = "many"\n')
    assert load_text(tmp_path, '[inbound]\nclient_message_rate = ""\n').inbound.client_message_rate == ""


def test_the_return_addresses_are_off_by_default_and_must_leave_room_for_a_token(tmp_path):
    webapp = load_config(write_toml(tmp_path, "[webapp]\n")).webapp
    assert webapp.bounce_address == "" and webapp.reply_address == ""
    message = config_error(tmp_path, '[webapp]\nbounce_address = "Bounces <b@example.org>"\n')
    assert "[webapp] bounce_address" in message and "not an address" in message
    message = config_error(tmp_path, '[webapp]\nbounce_address = "b+x@example.org"\n')
    assert "[webapp] bounce_address" in message and "+" in message
    message = config_error(tmp_path, f'[webapp]\nreply_address = "{"r" * 21}@example.org"\n')
    assert "[webapp] reply_address" in message and "at most 20" in message
    message = config_error(tmp_path, '[webapp]\nbounce_address = "b@example.org"\n'
                                     'reply_address = "B@example.org"\n')
    assert "[webapp] reply_address" in message and "differ" in message
