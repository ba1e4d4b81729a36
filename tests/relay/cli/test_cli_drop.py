"""`relay drop`: validate .eml files and place them in pickup atomically, or refuse them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.cli.main import main
from tests.configs import config_file, write_toml
from tests.relay.relay_helpers import RELAY_BIN

GOOD = (
    b"From: Site <noreply@example.test>\r\n"
    b"To: ann@example.test\r\n"
    b"Subject: Password reset\r\n"
    b"\r\n"
    b"Follow the link.\r\n"
)


@pytest.fixture
def config(tmp_path: Path, pickup_dir: Path) -> Path:
    return config_file(tmp_path, pickup={"dir": pickup_dir.name})


@pytest.fixture
def relay(config: Path, monkeypatch):
    """Run `relay --config <tmp config> ARGS...` in-process; returns the click Result."""
    monkeypatch.delenv("PICKUP_RELAY_CONFIG", raising=False)

    def run(*args: str, input: bytes | None = None):
        return CliRunner().invoke(main, ["--config", str(config), *args], input=input)
    return run


def eml(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def in_pickup(pickup_dir: Path) -> list[Path]:
    return sorted(pickup_dir.iterdir())


def test_good_file_lands_in_pickup_with_identical_bytes(relay, tmp_path, pickup_dir):
    source = eml(tmp_path, "reset.eml", GOOD)
    result = relay("drop", str(source))
    assert result.exit_code == 0, result.output
    [placed] = in_pickup(pickup_dir)
    assert placed.suffix == ".eml" and not placed.name.endswith(".bulk.eml")
    assert placed.read_bytes() == GOOD
    assert source.read_bytes() == GOOD  # the original is copied, not moved
    assert f"queued  {source} -> {placed}" in result.stdout
    assert "from <noreply@example.test>, 1 recipient)" in result.stdout


def test_envelope_lines_are_kept_and_counted(relay, tmp_path, pickup_dir):
    data = b"X-Sender: <bounce@example.test>\r\nX-Receiver: <a@example.test>\r\n" \
           b"X-Receiver: <b@example.test>\r\n" + GOOD
    result = relay("drop", str(eml(tmp_path, "env.eml", data)))
    assert result.exit_code == 0, result.output
    assert "from <bounce@example.test>, 2 recipients)" in result.stdout
    [placed] = in_pickup(pickup_dir)
    assert placed.read_bytes() == data


def test_priority_bulk_gives_a_bulk_eml_name(relay, tmp_path, pickup_dir):
    result = relay("drop", "--priority", "bulk", str(eml(tmp_path, "news.eml", GOOD)))
    assert result.exit_code == 0, result.output
    [placed] = in_pickup(pickup_dir)
    assert placed.name.endswith(".bulk.eml")


def test_unknown_priority_is_a_usage_error(relay, tmp_path, pickup_dir):
    result = relay("drop", "--priority", "urgent", str(eml(tmp_path, "a.eml", GOOD)))
    assert result.exit_code == 2
    assert in_pickup(pickup_dir) == []


def test_dash_reads_the_message_from_stdin(relay, pickup_dir):
    result = relay("drop", "-", input=GOOD)
    assert result.exit_code == 0, result.output
    [placed] = in_pickup(pickup_dir)
    assert placed.read_bytes() == GOOD


def test_several_good_files_each_get_their_own_pickup_file(relay, tmp_path, pickup_dir):
    files = [str(eml(tmp_path, f"m{n}.eml", GOOD + b"#%d\r\n" % n)) for n in range(3)]
    result = relay("drop", *files)
    assert result.exit_code == 0, result.output
    assert sorted(p.read_bytes() for p in in_pickup(pickup_dir)) == \
        [GOOD + b"#%d\r\n" % n for n in range(3)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty file"),
     (b"\n\r\n  \n", "empty file"),
     (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 8, "NUL byte"),
     (bytes(range(256)) * 4, "line 1 contains a NUL byte"),
     (b"\x89PNG-like text\r\n\x1a\n", "is not a header"),
     (b"From: a@example.test\r\nSubject: to nobody\r\n\r\nbody\r\n", "no recipients"),
     (b"To: b@example.test\r\nSubject: from nobody\r\n\r\nbody\r\n", "no sender"),
     (GOOD + b"\r\n\x00.\r\n", "line 7 contains a NUL byte")],
    ids=["empty", "blank-lines", "png", "binary-junk", "no-header", "no-recipients", "no-sender",
         "nul-in-body"],
)
def test_unsendable_file_is_refused_with_a_reason_and_pickup_stays_empty(
        relay, tmp_path, pickup_dir, data, reason):
    source = eml(tmp_path, "bad.eml", data)
    result = relay("drop", str(source))
    assert result.exit_code == 1
    assert f"refused {source}: " in result.stderr
    assert reason in result.stderr
    assert in_pickup(pickup_dir) == []


def test_a_file_that_looks_truncated_is_refused_in_the_words_badmail_uses(relay, tmp_path,
                                                                          pickup_dir):
    from tests.spooler.test_truncation import single_base64, with_attachment
    attached, pdf = with_attachment(), single_base64(b"%PDF-1.7 " * 100)
    cut = eml(tmp_path, "cut.eml", attached[:len(attached) // 2])
    cut_pdf = eml(tmp_path, "cut-pdf.eml", pdf[:-4])
    whole = eml(tmp_path, "whole.eml", attached)
    result = relay("drop", str(cut), str(cut_pdf), str(whole))
    assert result.exit_code == 1
    assert f"refused {cut}: looks truncated: its multipart body has no closing boundary line --" \
        in result.stderr
    assert f"refused {cut_pdf}: looks truncated: its base64 body has" in result.stderr
    [placed] = in_pickup(pickup_dir)
    assert placed.read_bytes() == attached


def test_file_over_max_message_size_is_refused(tmp_path, pickup_dir, monkeypatch):
    config = config_file(tmp_path, relay={"max_message_size": "1KB"})
    monkeypatch.delenv("PICKUP_RELAY_CONFIG", raising=False)
    big = eml(tmp_path, "big.eml", GOOD + b"x" * 1000 + b"\r\n")
    small = eml(tmp_path, "small.eml", GOOD)
    result = CliRunner().invoke(main, ["--config", str(config), "drop", str(big), str(small)])
    assert result.exit_code == 1
    assert f"refused {big}: larger than the 1,000-byte limit" in result.stderr
    assert "max_message_size" in result.stderr
    [placed] = in_pickup(pickup_dir)  # the one under the limit still goes
    assert placed.read_bytes() == GOOD


def test_missing_file_is_refused_naming_it(relay, tmp_path, pickup_dir):
    missing = tmp_path / "nowhere.eml"
    result = relay("drop", str(missing))
    assert result.exit_code == 1
    assert f"refused {missing}: No such file or directory" in result.stderr
    assert in_pickup(pickup_dir) == []


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_fifo_or_folder_is_refused_at_once_and_pickup_stays_empty(config, tmp_path, pickup_dir, kind):
    odd = tmp_path / f"odd-{kind}.eml"
    if kind == "fifo":
        os.mkfifo(odd)
    else:
        odd.mkdir()
    good = eml(tmp_path, "good.eml", GOOD)
    # A real process: a drop that waited for the fifo's writer would hang the suite, not fail it.
    result = subprocess.run([str(RELAY_BIN), "--config", str(config), "drop", str(odd), str(good)],
                            capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 1
    assert f"refused {odd}: not a regular file (a {kind}): only message files can be dropped" \
        in result.stderr
    [placed] = in_pickup(pickup_dir)
    assert placed.read_bytes() == GOOD


def test_good_files_are_placed_even_when_others_are_refused(relay, tmp_path, pickup_dir):
    good1 = eml(tmp_path, "good1.eml", GOOD)
    empty = eml(tmp_path, "empty.eml", b"")
    good2 = eml(tmp_path, "good2.eml", GOOD.replace(b"ann@", b"bob@"))
    result = relay("drop", str(good1), str(empty), str(tmp_path / "gone.eml"), str(good2))
    assert result.exit_code == 1
    assert sorted(p.read_bytes() for p in in_pickup(pickup_dir)) == \
        sorted([GOOD, GOOD.replace(b"ann@", b"bob@")])
    assert f"refused {empty}" in result.stderr
    assert "gone.eml" in result.stderr
    assert result.stdout.count("queued ") == 2


def test_missing_pickup_folder_is_refused_with_advice(tmp_path, monkeypatch):
    config = config_file(tmp_path, pickup={"dir": "no-such-folder"})
    (tmp_path / "no-such-folder").rmdir()   # config_file made it: its absence is the subject
    monkeypatch.delenv("PICKUP_RELAY_CONFIG", raising=False)
    source = eml(tmp_path, "a.eml", GOOD)
    result = CliRunner().invoke(main, ["--config", str(config), "drop", str(source)])
    assert result.exit_code == 1
    assert "does not exist" in result.stderr and "[pickup] dir" in result.stderr


def test_config_error_exits_2_and_names_the_key(tmp_path, pickup_dir):
    config = write_toml(tmp_path, '[relay]\nmax_message_size = "big"\n')   # a value the loader refuses
    result = CliRunner().invoke(main, ["--config", str(config), "drop",
                                       str(eml(tmp_path, "a.eml", GOOD))])
    assert result.exit_code == 2
    assert "config error" in result.stderr
    assert str(config) in result.stderr and "max_message_size" in result.stderr
    assert in_pickup(pickup_dir) == []


def test_missing_config_file_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "none.toml"), "drop", "-"],
                                input=GOOD)
    assert result.exit_code == 2
    assert "none.toml: no such config file" in result.stderr


def test_drop_without_files_is_a_usage_error(relay):
    assert relay("drop").exit_code == 2


@pytest.mark.parametrize(
    ("args", "described"),
    [([], "Pickup Relay"),
     (["drop"], "place each one in pickup atomically"),
     (["sink"], "catch-all SMTP server")],
    ids=["relay", "drop", "sink"],
)
def test_help_exits_0_and_describes_the_command(relay, args, described):
    result = relay(*args, "--help")
    assert result.exit_code == 0, result.output
    assert described in " ".join(result.stdout.split())


# Help for the command that fixes things must not depend on the config.
def test_subcommand_help_works_with_a_broken_config(tmp_path):
    broken = write_toml(tmp_path, "[relay\n")   # not TOML
    result = CliRunner().invoke(main, ["--config", str(broken), "drop", "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout

