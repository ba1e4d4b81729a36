"""The one configuration loader: config.toml -> typed, frozen dataclasses (settings.tables),
read by settings.loader; the site, the spooler and the relay all import it from here."""

from settings.loader import ENV_VAR, default_config_path, load_config, parse_config, parse_rate
from settings.tables import (
    Config,
    ConfigError,
    DkimConfig,
    InboundConfig,
    PickupConfig,
    RelayConfig,
    ReleaseConfig,
    SinkConfig,
    SmartHostConfig,
    WebappConfig,
)

__all__ = ["ENV_VAR", "Config", "ConfigError", "DkimConfig", "InboundConfig", "PickupConfig", "RelayConfig",
           "ReleaseConfig", "SinkConfig", "SmartHostConfig", "WebappConfig", "default_config_path",
           "load_config", "parse_config", "parse_rate"]
