"""The pickup writer: atomic, unique, durable by default, and it never leaves half a message."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from email.message import EmailMessage
from pathlib import Path

import pytest

from spooler.envelope import parse_pickup
from spooler.message import Address, Notification, build
from spooler.names import new_queue_id
from spooler.pickup import MessageTooLarge, PickupError, PickupWriter


def notification(n: int = 0, size: int = 1500) -> Notification:
    return Notification(
        sender=Address("noreply@example.test", "Q&A"),
        to=[Address(f"user{n}@example.test", f"User {n}")],
        subject=f"New answer to your question #{n}",
        text="An answer arrived.\n" + "x" * size,
    )


def eml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml"))


def run_python(code: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=120, **kwargs)


def test_written_file_holds_envelope_then_message(pickup_dir):
    message = build(notification())
    path = PickupWriter(pickup_dir).write(message)

    assert path.parent == pickup_dir and path.name.endswith(".eml")
    data = path.read_bytes()
    assert data.startswith(b"X-Sender: <noreply@example.test>\r\nX-Receiver: <user0@example.test>\r\n")
    parsed = parse_pickup(data)
    assert parsed.sender == "noreply@example.test"
    assert parsed.recipients == ("user0@example.test",)
    assert parsed.content == message.content


def test_envelope_can_name_recipients_not_in_to(pickup_dir):
    message = build(notification())
    path = PickupWriter(pickup_dir).write(message, recipients=["audit@example.test"])
    assert parse_pickup(path.read_bytes()).recipients == ("audit@example.test",)


def test_bulk_class_is_in_the_name_and_never_in_the_content(pickup_dir):
    path = PickupWriter(pickup_dir).write(build(notification()), priority="bulk")
    assert path.name.endswith(".bulk.eml")
    assert b"bulk" not in path.read_bytes()


def test_unknown_priority_is_refused(pickup_dir):
    with pytest.raises(ValueError, match="priority"):
        PickupWriter(pickup_dir).write(build(notification()), priority="urgent")
    assert not list(pickup_dir.iterdir())


def test_email_message_bcc_moves_to_the_envelope(pickup_dir):
    msg = EmailMessage()
    msg["From"] = "Site <site@example.test>"
    msg["To"] = "a@example.test"
    msg["Bcc"] = "secret@example.test"
    msg["Subject"] = "hello"
    msg.set_content("body\n")
    path = PickupWriter(pickup_dir).write(msg)

    data = path.read_bytes()
    parsed = parse_pickup(data)
    assert parsed.recipients == ("a@example.test", "secret@example.test")
    assert b"Bcc" not in data and b"\r\n" in data
    assert "Bcc" in msg  # the caller's message is not changed


def test_raw_bytes_are_written_as_they_are(pickup_dir):
    raw = b"From: a@example.test\nTo: b@example.test\nSubject: raw\n\nbody\n"
    assert PickupWriter(pickup_dir).write(raw).read_bytes() == raw


def test_ids_sort_by_creation_time():
    ids = [new_queue_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert [i[:14] for i in ids] == sorted(i[:14] for i in ids)


def test_ids_are_unique_across_four_processes_writing_5000_each(pickup_dir):
    code = """
        import sys
        from spooler.pickup import PickupWriter
        writer = PickupWriter(sys.argv[1], durable=False)
        for i in range(5000):
            writer.write_bytes(b"To: a@example.test\\r\\n\\r\\nx\\r\\n")
    """
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(pickup_dir)])
             for _ in range(4)]
    try:
        assert [p.wait(timeout=240) for p in procs] == [0, 0, 0, 0]
    finally:
        for p in procs:
            p.kill()
    names = os.listdir(pickup_dir)
    assert len(names) == 20_000
    assert all(n.endswith(".eml") for n in names)  # no temp file left behind


def test_a_reader_polling_pickup_never_sees_a_partial_file(pickup_dir):
    # A writer in another process writes 300 files of 200 KB; a poller reads every
    # *.eml it sees while that happens and checks each is whole.
    body = b"To: a@example.test\r\n\r\n" + b"0123456789abcdef" * 12_800 + b"\r\nEND\r\n"
    code = """
        import sys
        from spooler.pickup import PickupWriter
        writer = PickupWriter(sys.argv[1], durable=False)
        body = sys.stdin.buffer.read()
        for i in range(300):
            writer.write_bytes(body)
    """
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(pickup_dir)],
                              stdin=subprocess.PIPE)
    writer.stdin.write(body)
    writer.stdin.close()
    seen, reads = set(), 0
    try:
        while writer.poll() is None and reads < 100_000:
            for entry in os.scandir(pickup_dir):
                if entry.name.endswith(".eml") and entry.name not in seen:
                    data = Path(entry.path).read_bytes()
                    reads += 1
                    assert data == body, f"{entry.name} was read partial: {len(data)} bytes"
                    seen.add(entry.name)
        assert writer.wait(timeout=60) == 0
    finally:
        writer.kill()
    assert len(eml_files(pickup_dir)) == 300
    assert reads > 0  # the poller really raced the writer


def test_missing_pickup_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PickupError, match="does not exist"):
        PickupWriter(tmp_path / "nowhere").write(build(notification()))


def test_pickup_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "pickup").write_text("not a folder")
    with pytest.raises(PickupError, match="not a folder"):
        PickupWriter(tmp_path / "pickup").write(build(notification()))


def test_unwritable_pickup_folder_is_a_clear_error(pickup_dir):
    # As root, permission bits do not apply, so the write runs as an unprivileged user.
    pickup_dir.chmod(0o555)
    code = """
        import os, sys
        from spooler.pickup import PickupError, PickupWriter
        if os.getuid() == 0:  # imports first: the interpreter may live where nobody cannot read
            os.setgid(65534); os.setuid(65534)
        try:
            PickupWriter(sys.argv[1]).write_bytes(b"To: a@example.test\\r\\n\\r\\nx\\r\\n")
        except PickupError as e:
            print(e)
    """
    result = run_python(code, str(pickup_dir), cwd=Path(__file__).parents[2])
    assert "is not writable" in result.stdout, result.stderr
    assert not list(pickup_dir.iterdir())


def test_message_over_the_size_limit_is_refused_and_nothing_written(pickup_dir):
    with pytest.raises(MessageTooLarge, match="max_message_size"):
        PickupWriter(pickup_dir, max_size=1000).write(build(notification(size=5000)))
    assert not list(pickup_dir.iterdir())


def test_disk_full_leaves_no_partial_file(pickup_dir):
    # RLIMIT_FSIZE makes write() fail with EFBIG part-way, as a full disk would.
    code = """
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        from spooler.pickup import PickupError, PickupWriter
        try:
            PickupWriter(sys.argv[1]).write_bytes(b"To: a@example.test\\r\\n\\r\\n" + b"x" * 500_000)
        except PickupError as e:
            print(e)
    """
    result = run_python(code, str(pickup_dir), cwd=Path(__file__).parents[2])
    assert "no space left" in result.stdout, result.stderr
    assert list(pickup_dir.iterdir()) == []  # neither a *.eml nor the temporary file
