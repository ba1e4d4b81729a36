"""`flask --app webapp check` and GET /healthz: what a deploy and a load balancer rely on."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.configs import config_file
from webapp.site.extensions import db


def test_healthz_answers_200_with_json_and_sets_no_cookie(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "pickup": "ok"}
    assert "Set-Cookie" not in response.headers and response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_naming_what_failed(app, client, config):
    config.pickup.dir.rename(config.pickup.dir.with_name("elsewhere"))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "failing", "database": "ok", "pickup": "failing"}
    database = config.base_dir / "var" / "site.db"
    with app.app_context():
        db.engine.dispose()
    database.write_bytes(b"this is not a database" * 100)
    time.sleep(1.1)   # the last probe's answer serves a second
    assert client.get("/healthz").get_json()["database"] == "failing"


def test_a_flood_of_healthz_hits_probes_pickup_once_a_second(client, config):
    assert client.get("/healthz").status_code == 200
    probed = config.pickup.dir.stat().st_mtime_ns   # the probe's file came and went
    for _ in range(20):
        assert client.get("/healthz").get_json()["pickup"] == "ok"
        time.sleep(0.01)
    assert config.pickup.dir.stat().st_mtime_ns == probed, "a hit wrote into pickup again"
    config.pickup.dir.rename(config.pickup.dir.with_name("elsewhere"))
    time.sleep(1.1)
    assert client.get("/healthz").status_code == 503   # a second later it looks again


def test_check_passes_on_a_ready_site_and_names_a_schema_behind(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "ok       schema: at the newest migration" in result.output
    with app.app_context():
        from flask_migrate import downgrade
        downgrade(revision="-1")
    result = runner.invoke(args=["check"])
    assert result.exit_code == 1
    assert "PROBLEM  schema:" in result.output and "fix: flask --app webapp db upgrade" in result.output


def test_check_names_a_pickup_folder_it_cannot_write(app, config):
    config.pickup.dir.rmdir()
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1
    assert f"PROBLEM  pickup folder: pickup folder {config.pickup.dir} does not exist" in result.output


def check_with(app, **env):
    """`flask check`'s output with these variables set, and GUNICORN_BIND/_CMD_ARGS unset otherwise."""
    result = app.test_cli_runner().invoke(args=["check"], env={"GUNICORN_BIND": None,
                                                               "GUNICORN_CMD_ARGS": None, **env})
    assert result.exit_code == 0, result.output   # a warning at worst: the site works
    return result.output


@pytest.mark.parametrize("bind", ["127.0.0.1:8000", "[::1]:8000", "localhost:8000",
                                  "unix:/run/pickup-relay-site/gunicorn.sock"])
def test_check_says_gunicorn_listens_for_this_host_only(app, bind):
    assert f"ok       gunicorn bind: {bind} (this host only)" in check_with(app, GUNICORN_BIND=bind)


def test_check_reads_the_bind_gunicorn_conf_py_falls_back_on(app):
    assert "ok       gunicorn bind: 127.0.0.1:8000 (this host only)" in check_with(app)


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", ":8000", "[::]:8000", "192.0.2.10:8000"])
def test_check_warns_when_gunicorn_would_listen_where_others_reach_it(app, bind):
    # Straight to gunicorn, anyone sends the X-Forwarded-For the site believes from its proxy.
    output = check_with(app, GUNICORN_BIND=bind)
    assert f"WARNING  gunicorn bind: {bind}: others reach gunicorn without the proxy" in output
    assert "fix: listen on 127.0.0.1 or a unix socket" in output


def test_a_bind_in_gunicorn_cmd_args_counts_over_the_config_file(app):
    output = check_with(app, GUNICORN_BIND="127.0.0.1:8000",
                        GUNICORN_CMD_ARGS="--workers 3 --bind=0.0.0.0:8000")
    assert "WARNING  gunicorn bind: 0.0.0.0:8000: " in output


def test_a_bad_config_is_one_line_and_exit_status_2(tmp_path):
    config_path = config_file(tmp_path, webapp={"mail_from": "not an address"})
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "check"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PICKUP_RELAY_CONFIG": str(config_path)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("config error: ")
    assert "Traceback" not in result.stderr
