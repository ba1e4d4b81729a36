"""spooler.staged: a live writer's staged files are never orphans; a SIGKILLed writer's are;
publishing renames into KEY.bulk.eml; the relay ignores staged and lock names."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spooler import staged
from spooler.names import is_message_name
from spooler.staged import StagedWriter

REPO = Path(__file__).parents[2]
# A writer in a process of its own: stages the keys it is given, says its token, then waits.
WRITER = """
import sys
from spooler.staged import StagedWriter
writer = StagedWriter(sys.argv[1])
for key in sys.argv[2:]:
    writer.stage(key, b"Subject: " + key.encode() + b"\\r\\n\\r\\nbody\\r\\n")
writer.sync()
print(writer.token, flush=True)
sys.stdin.read()
"""


@pytest.fixture
def writer_process(pickup_dir):
    """Start a writer that staged `keys`; returns (process, token). Killed after the test."""
    started = []

    def start(*keys: str):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(pickup_dir), *keys], cwd=REPO,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(process)
        token = process.stdout.readline().decode().strip()
        assert len(token) == 16, "the writer did not start"
        return process, token

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdin.close()
        process.stdout.close()


def sigkill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_a_live_writers_staged_files_are_never_orphans(pickup_dir, writer_process):
    _process, token = writer_process("n1-1", "n1-2")
    assert staged.is_alive(pickup_dir, token)
    assert names(pickup_dir) == [f".n1-1.{token}.tmp", f".n1-2.{token}.tmp", f".placer-{token}.lock"]
    assert staged.orphans(pickup_dir) == []


def test_a_killed_writers_staged_files_are_orphans(pickup_dir, writer_process):
    process, token = writer_process("n1-1", "n1-2")
    _live, live_token = writer_process("n2-1")
    sigkill(process)
    assert not staged.is_alive(pickup_dir, token)
    found = staged.orphans(pickup_dir)
    assert sorted((o.key, o.token) for o in found) == [("n1-1", token), ("n1-2", token)]
    assert all(o.path.read_bytes().startswith(b"Subject: n1-") for o in found)
    assert staged.is_alive(pickup_dir, live_token)   # the other writer's file is not among them


def test_publishing_orphans_renames_them_into_bulk_names_and_discarding_removes_them(
        pickup_dir, writer_process):
    process, token = writer_process("n1-1", "n1-2", "n1-3")
    sigkill(process)
    found = {o.key: o for o in staged.orphans(pickup_dir)}
    assert staged.publish_orphans(pickup_dir, [found["n1-1"], found["n1-2"]]) == 2
    assert staged.publish_orphans(pickup_dir, [found["n1-1"]]) == 0   # placed already: once
    staged.discard_orphans([found["n1-3"]])
    assert names(pickup_dir) == [f".placer-{token}.lock", "n1-1.bulk.eml", "n1-2.bulk.eml"]
    assert (pickup_dir / "n1-2.bulk.eml").read_bytes() == b"Subject: n1-2\r\n\r\nbody\r\n"


def test_a_writer_publishes_what_it_staged_and_leaves_the_rest_to_recovery_when_closed(pickup_dir):
    writer = StagedWriter(pickup_dir)
    try:
        writer.stage("n7-1", b"one")
        writer.stage("n7-2", b"two")
        writer.sync()
        assert [n for n in names(pickup_dir) if is_message_name(n)] == []
        assert writer.publish(["n7-1"]) == 1
        assert staged.orphans(pickup_dir) == []
    finally:
        writer.close()
    # Closed as if killed: whether n7-2 was committed is the database's to say, not close()'s.
    assert [(o.key, o.token) for o in staged.orphans(pickup_dir)] == [("n7-2", writer.token)]
    assert names(pickup_dir) == [f".n7-2.{writer.token}.tmp", "n7-1.bulk.eml"]


def test_a_key_outside_the_rules_is_refused(pickup_dir):
    writer = StagedWriter(pickup_dir)
    try:
        for key in ("N1-1", "../n1", "n1.eml", ""):
            with pytest.raises(ValueError):
                writer.stage(key, b"x")
    finally:
        writer.close()


def test_the_relay_ignores_staged_and_lock_names(pickup_dir, writer_process):
    _process, token = writer_process("n1-1")
    assert [n for n in names(pickup_dir) if is_message_name(n)] == []
    assert not is_message_name(f".n1-1.{token}.tmp")
    assert not is_message_name(f".placer-{token}.lock")
    assert not is_message_name(f".placer-{token}.making")
    assert is_message_name("n1-1.bulk.eml")


def test_only_dead_writers_lock_files_without_staged_files_are_removed(pickup_dir, writer_process):
    live, live_token = writer_process()
    dead_empty, empty_token = writer_process()
    dead_staged, staged_token = writer_process("n3-1")
    sigkill(dead_empty)
    sigkill(dead_staged)
    staged.remove_dead_locks(pickup_dir)
    # The lock of a dead writer with staged files stays until they are dealt with.
    assert set(names(pickup_dir)) == {f".n3-1.{staged_token}.tmp", f".placer-{live_token}.lock",
                                      f".placer-{staged_token}.lock"}
    staged.discard_orphans(staged.orphans(pickup_dir))
    staged.remove_dead_locks(pickup_dir)
    assert names(pickup_dir) == [f".placer-{live_token}.lock"]
    assert live.poll() is None and staged.is_alive(pickup_dir, live_token)
