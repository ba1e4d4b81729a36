"""The site with mail that comes back switched on: a bounce address and a reply address."""

from __future__ import annotations

import pytest

from tests.configs import SITE, build_config

BOUNCE_ADDRESS = "bounces@bounce.example.test"
REPLY_ADDRESS = "reply@qa.example.test"
RETURNING = {"webapp": {"bounce_address": BOUNCE_ADDRESS, "reply_address": REPLY_ADDRESS}}


@pytest.fixture
def config(tmp_path):
    return build_config(tmp_path, SITE, RETURNING)
