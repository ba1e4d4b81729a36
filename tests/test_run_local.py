"""`make run`'s script: one run per checkout, every way of stopping it stops all five parts, and
an answer's notification goes from the outbox through the worker and the relay to the sink."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.configs import config_file
from tests.inbox_client import InboxClient
from tests.ports import free_port
from tests.relay.relay_helpers import wait_until

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_local.py"


def descendants(pid: int) -> set[int]:
    """Every live process below pid, from /proc (the parts run in their own sessions)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists()
            and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}


@pytest.fixture
def local_config(tmp_path):
    site, sink, inbox = free_port(), free_port(), free_port()
    return config_file(tmp_path, relay={"processes": 1, "smarthost": {"port": sink}},
                       sink={"port": sink, "web_port": inbox}, webapp={"base_url": f"http://127.0.0.1:{site}"})


def start(config: Path, *options: str, via_parent: bool = False) -> subprocess.Popen:
    command = [sys.executable, str(SCRIPT), "--config", str(config), *options]
    if via_parent:  # like make: a parent that only waits for the script
        command = [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])",
                   *command]
    with open(config.parent / "run-local.log", "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=config.parent)


def wait_for_parts(process: subprocess.Popen, count: int = 5) -> set[int]:
    wait_until(lambda: len(descendants(process.pid)) >= count, timeout=30,
               what=f"{count} parts: site, outbox worker, relay, sink{' and inbox' if count == 5 else ''}")
    return descendants(process.pid)


def command_lines(pids: set[int]) -> list[str]:
    return [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode() for p in alive(pids)]


def run_log(config: Path) -> str:
    return (config.parent / "run-local.log").read_text()


def stop_all(process: subprocess.Popen, parts: set[int]) -> None:
    for pid in alive(parts | {process.pid}):
        os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_a_second_run_says_who_runs_and_starts_nothing(local_config):
    first = start(local_config)
    parts = set()
    try:
        parts = wait_for_parts(first)
        second = subprocess.run([sys.executable, str(SCRIPT), "--config", str(local_config)],
                                capture_output=True, text=True, timeout=30, check=False)
        assert second.returncode == 1
        assert f"already running: pid {first.pid}" in second.stderr
        assert alive(parts) == parts and len(descendants(first.pid)) == len(parts)
    finally:
        stop_all(first, parts)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_run_stops_site_relay_sink_and_inbox(local_config, signum):
    run = start(local_config)
    parts = set()
    try:
        parts = wait_for_parts(run)
        run.send_signal(signum)
        run.wait(timeout=60)
        wait_until(lambda: not alive(parts), timeout=30, what="every part stopped")
    finally:
        stop_all(run, parts)


def test_killing_make_above_the_run_stops_everything(local_config):
    make = start(local_config, via_parent=True)
    parts = set()
    try:
        parts = wait_for_parts(make)
        make.send_signal(signal.SIGTERM)  # make dies; the script and its parts must follow
        make.wait(timeout=30)
        wait_until(lambda: not alive(parts), timeout=30, what="the script and its parts stopped")
    finally:
        stop_all(make, parts)


def test_ports_given_once_move_the_site_the_sink_the_relay_with_it_and_the_inbox(local_config):
    site, smtp, web = free_port(), free_port(), free_port()
    run = start(local_config, "--port", str(site), "--smtp-port", str(smtp), "--web-port", str(web))
    parts = set()
    try:
        parts = wait_for_parts(run)
        wait_until(lambda: answers(site) and answers(smtp) and answers(web), timeout=30,
                   what="the three ports")
        derived = (local_config.parent / ".run-local.toml").read_text()
        assert f'base_url = "http://127.0.0.1:{site}"' in derived
        assert derived.count(f"port = {smtp}") == 2  # the sink and the relay's smart host
        assert f"web_port = {web}" in derived
        wait_until(lambda: f"mail: http://127.0.0.1:{web}\n" in run_log(local_config), timeout=30,
                   what="where to read the mail")
    finally:
        stop_all(run, parts)


def test_relay_status_during_a_run_on_a_moved_smtp_port_reads_the_runs_config(local_config):
    """The issue's story: after `make run SMTP_PORT=...`, `relay status` typed in the checkout
    (no --config) probes the moved smart host and says which config it read."""
    smtp = free_port()
    run = start(local_config, "--smtp-port", str(smtp))
    parts = set()
    env = {k: v for k, v in os.environ.items() if k != "PICKUP_RELAY_CONFIG"}

    def status() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "relay", "status"], cwd=local_config.parent,
                              env=env, capture_output=True, text=True, timeout=60, check=False)

    try:
        parts = wait_for_parts(run)
        wait_until(lambda: status().returncode == 0, timeout=30, what="relay status to exit 0")
        report = status()
        assert f"smart host 127.0.0.1:{smtp}: reachable" in report.stdout
        assert report.stderr == (f"relay: using the local run's config .run-local.toml "
                                 f"(make run, pid {run.pid})\n")
        assert "`relay` and `flask` commands run in . read it too" in run_log(local_config)
    finally:
        stop_all(run, parts)


def test_a_taken_inbox_port_starts_nothing(local_config):
    inbox_port = free_port()
    with socket.create_server(("127.0.0.1", inbox_port)):
        run = subprocess.run([sys.executable, str(SCRIPT), "--config", str(local_config),
                              "--web-port", str(inbox_port)],
                             cwd=local_config.parent, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"the inbox's port 127.0.0.1:{inbox_port} is taken" in run.stderr
    assert "nothing was started" in run.stderr


def test_web_port_0_runs_without_an_inbox(local_config):
    run = start(local_config, "--web-port", "0")
    parts = set()
    try:
        parts = wait_for_parts(run, 4)
        wait_until(lambda: "Ctrl-C stops everything" in run_log(local_config), timeout=30,
                   what="the run to say it started")
        assert len(descendants(run.pid)) == 4
        assert "mail: http" not in run_log(local_config)
    finally:
        stop_all(run, parts)


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def post_an_answer(config_path: Path) -> int:
    """Ann's question, Bob's answer and its outbox event, written straight into the run's
    database as the site's request would; returns the question's id."""
    from settings import load_config
    from webapp import create_app
    from webapp.accounts.models import User
    from webapp.mail import outbox
    from webapp.mail.kinds import EventKind
    from webapp.posts.models import Answer, Question, Subscription
    from webapp.site.database import utcnow
    from webapp.site.extensions import db

    app = create_app(load_config(config_path))
    with app.app_context():
        try:
            # Ann chose mail "always, at once": on the default ("when I'm away") it would wait
            # mail_when_away for her to read it on the site first.
            ann, bob = (User(email=f"{n.lower()}@example.org", display_name=n, password_hash="x",
                             activated_at=utcnow(), notify_mode="instant") for n in ("Ann", "Bob"))
            db.session.add_all([ann, bob])
            db.session.flush()
            question = Question(author_id=ann.id, title="Where does my mail go?",
                                body_source="Asking.", body_html="<p>Asking.</p>")
            db.session.add(question)
            db.session.flush()
            reply = Answer(question_id=question.id, author_id=bob.id,
                           body_source="Through the pickup folder.",
                           body_html="<p>Through the pickup folder.</p>")
            db.session.add_all([reply, Subscription(user_id=ann.id, kind="question",
                                                    target_id=question.id)])
            db.session.flush()
            outbox.record(EventKind.ANSWER, "question", question.id, reply.id, bob.id)
            db.session.commit()
            return question.id
        finally:
            db.engine.dispose()


def test_an_answers_notification_reaches_the_sinks_inbox(local_config):
    run = start(local_config, "--digests-every", "1")
    parts = set()
    try:
        parts = wait_for_parts(run)
        assert any("outbox-worker" in line for line in command_lines(parts))
        wait_until(lambda: "Ctrl-C stops everything" in run_log(local_config), timeout=30,
                   what="the run to say it started")
        question_id = post_an_answer(local_config)
        inbox = InboxClient(f"http://127.0.0.1:{web_port(local_config)}").wait_ready()   # the run's
        mail = inbox.wait_for('subject:"New answer: Where does my mail go?"', timeout=60)
        assert mail["to"] == "Ann <ann@example.org>"
        assert ["References", f"<question-{question_id}@127.0.0.1>"] in mail["headers"]
        time.sleep(2.5)  # a few send-digests rounds, with or without such a command: all still run
        assert alive(parts) == parts and run.poll() is None
    finally:
        stop_all(run, parts)


def web_port(config: Path) -> int:
    return tomllib.loads(config.read_text())["sink"]["web_port"]


def test_with_inbound_domains_the_run_receives_mail_and_the_site_reads_it(tmp_path):
    site, sink, inbox, inbound = free_port(), free_port(), free_port(), free_port()
    config = config_file(tmp_path, relay={"processes": 1, "smarthost": {"port": sink}},
                         sink={"port": sink, "web_port": inbox},
                         webapp={"base_url": f"http://127.0.0.1:{site}",
                                 "bounce_address": "bounces@example.test"},
                         inbound={"listen": f"127.0.0.1:{inbound}", "domains": ["example.test"]})
    run = start(config)
    parts = set()
    try:
        parts = wait_for_parts(run, count=7)
        assert any(line.endswith(" receive ") for line in command_lines(parts))
        assert any("inbound-worker" in line for line in command_lines(parts))
        wait_until(lambda: answers(inbound), timeout=30, what="relay receive")
        with smtplib.SMTP("127.0.0.1", inbound, timeout=10) as smtp:   # a token the site never made
            smtp.sendmail("", ["bounces+notatoken@example.test"], b"Subject: bounce\r\n\r\nGone.\r\n")
        drop = tmp_path / "var" / "drop"
        wait_until(lambda: list((drop / "badmail").glob("*.reason")), timeout=30,
                   what="the worker to take the file and say why it could not use it")
        assert not list(drop.glob("*.eml"))
        assert "mail back: SMTP 127.0.0.1:" in run_log(config)
    finally:
        stop_all(run, parts)


def test_without_config_or_its_variable_the_run_reads_config_toml_where_it_starts(local_config):
    """`make run` on a fresh clone: no --config and no $PICKUP_RELAY_CONFIG, ./config.toml."""
    env = {k: v for k, v in os.environ.items() if k != "PICKUP_RELAY_CONFIG"}
    with open(local_config.parent / "run-local.log", "ab") as log:
        run = subprocess.Popen([sys.executable, str(SCRIPT)], stdout=log, stderr=subprocess.STDOUT,
                               cwd=local_config.parent, env=env)
    parts = set()
    try:
        parts = wait_for_parts(run)
        lines = command_lines(parts)
        assert any(f"--config {local_config} run" in line for line in lines), lines
    finally:
        stop_all(run, parts)
    assert "Traceback" not in run_log(local_config)
