"""The channel's tests use real files: a small tmpfs to fill comes from the relay's fixtures."""

from tests.relay.conftest import small_disk  # noqa: F401 - a fixture
