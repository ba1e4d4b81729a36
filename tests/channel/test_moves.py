"""Move requests and results both ways: what parse_request refuses, what submit writes (mode, place,
nothing when refused), and results read back typed in the shape the relay writes them."""

from __future__ import annotations

import json
import os
import stat

import pytest

from channel.moves import (
    FOLDER_MODES,
    MAX_ADMIN,
    MAX_REQUEST_BYTES,
    REQUESTS,
    RESULTS,
    MoveName,
    MoveResult,
    RequestRefused,
    RequestResult,
    admin_name,
    parse_request,
    read_result,
    request_id_of,
    submit,
    write_result,
)

QUEUE_ID = "0661f37e5e6817ce8529768a"
GOOD = {"move": "hold", "ids": [QUEUE_ID, QUEUE_ID], "admin": "Root <root@example.org>", "at": 1.5}


@pytest.fixture
def admin_dir(tmp_path):
    for sub, mode in FOLDER_MODES.items():
        (tmp_path / sub).mkdir(exist_ok=True)
        os.chmod(tmp_path / sub, mode)
    return tmp_path


def test_a_request_of_the_right_shape_is_read_typed_with_each_id_once():
    request = parse_request("ab" * 16, json.dumps(GOOD).encode())
    assert (request.move, request.ids, request.admin, request.at) == (
        MoveName.HOLD, (QUEUE_ID,), "Root <root@example.org>", 1.5)
    assert request.move.done == "held" and request.move.folder == "deferred"


@pytest.mark.parametrize("doc, why", [
    ({**GOOD, "move": "chmod"}, "move 'chmod' is not one of retry, hold, release, delete, requeue-badmail"),
    ({**GOOD, "move": ["hold"]}, "is not one of"),
    ({**GOOD, "move": "\x1b[2J"}, "move '\\\\x1b[2J' is not one of"),
    ({**GOOD, "ids": ["../../etc/passwd"]}, "not a queue id: '../../etc/passwd'"),
    ({**GOOD, "ids": [7]}, "not a queue id"),
    ({**GOOD, "ids": []}, "ids must be a list of 1 to 1000 queue ids"),
    ({**GOOD, "ids": QUEUE_ID}, "ids must be a list"),
    ({**GOOD, "admin": ""}, "admin must name who asked"),
    ({**GOOD, "at": "yesterday"}, "at must be a time"),
    ({**GOOD, "folder": "/"}, "unknown key(s): 'folder'"),
    ({"move": "hold"}, "missing key(s): admin, at, ids"),
    ([GOOD], "not a JSON object"),
])
def test_anything_not_exactly_a_request_is_refused_saying_why(doc, why):
    with pytest.raises(RequestRefused) as refused:
        parse_request("ab" * 16, json.dumps(doc).encode())
    assert why in str(refused.value)


@pytest.mark.parametrize("data, why", [
    (b"{" + b" " * MAX_REQUEST_BYTES + b"}", "over 65536 bytes"),
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[" * 60_000, "not JSON: nested too deeply"),
    (b'{"a": ' * 9_000 + b"1" + b"}" * 9_000, "not JSON: nested too deeply"),
])
def test_big_or_unreadable_requests_are_refused(data, why):
    with pytest.raises(RequestRefused, match=why):
        parse_request("ab" * 16, data)


def test_an_admin_is_named_on_one_line_whole_when_the_forms_allowed_it():
    name, address = "N" * 80, "a" * 64 + "@" + "d" * 189   # the longest the forms take
    assert admin_name(name, address) == f"{name} <{address}>"
    assert admin_name("Root\r\nAdmin\u2028of\x0bthe queue", "root@example.org") == \
        "Root Admin of the queue <root@example.org>"


def test_a_name_longer_than_a_request_carries_is_cut_short_keeping_the_address():
    named = admin_name("Ann " * 200, "ann@example.org")
    assert len(named) == MAX_ADMIN and named.endswith("\u2026 <ann@example.org>")
    assert named.startswith("Ann Ann ")
    very = admin_name("Ann", "a" * 1000 + "@example.org")
    assert len(very) == MAX_ADMIN and very.startswith("Ann <aaa") and very.endswith("\u2026>")
    parse_request("ab" * 16, json.dumps({**GOOD, "admin": very}).encode())   # the relay takes it


def test_submit_writes_the_request_whole_readable_by_the_group_whatever_the_umask(admin_dir):
    old = os.umask(0o077)
    try:
        request_id = submit(admin_dir, "retry", [QUEUE_ID], "Root", now=2.0)
    finally:
        os.umask(old)
    [name] = os.listdir(admin_dir / REQUESTS)
    assert request_id_of(name) == request_id
    path = admin_dir / REQUESTS / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(path.read_bytes()) == {"move": "retry", "ids": [QUEUE_ID], "admin": "Root", "at": 2.0}
    assert parse_request(request_id, path.read_bytes()).move is MoveName.RETRY


def test_submit_writes_nothing_the_relay_would_refuse(admin_dir):
    with pytest.raises(RequestRefused, match="not one of"):
        submit(admin_dir, "rm -rf", [QUEUE_ID], "Root")
    assert os.listdir(admin_dir / REQUESTS) == []


def test_without_the_folders_submit_says_so_with_an_oserror(tmp_path):
    with pytest.raises(OSError):
        submit(tmp_path / "no-relay-yet", "hold", [QUEUE_ID], "Root")


@pytest.mark.parametrize("name, request_id", [
    ("ab" * 16 + ".json", "ab" * 16), ("ab" * 16, None), ("AB" * 16 + ".json", None),
    ("please-delete-everything", None), (".ab.tmp", None),
])
def test_request_file_names(name, request_id):
    assert request_id_of(name) == request_id


def test_results_are_written_and_read_back_in_the_relays_shape(admin_dir):
    done = RequestResult("ab" * 16, 3.0, None, MoveName.REQUEUE_BADMAIL, "Root",
                         (MoveResult(QUEUE_ID, True, "0" * 24), MoveResult("1" * 24, False, error="gone")))
    refused = RequestResult("cd" * 16, 4.0, refused="not a regular file with one name")
    for result in (done, refused):
        write_result(admin_dir, result)
        assert read_result(admin_dir, result.request) == result
    assert json.loads((admin_dir / RESULTS / f"{'ab' * 16}.json").read_bytes()) == {
        "request": "ab" * 16, "move": "requeue-badmail", "done": "requeued", "admin": "Root",
        "at": 3.0, "refused": None, "results": [
            {"id": QUEUE_ID, "ok": True, "new_id": "0" * 24, "error": ""},
            {"id": "1" * 24, "ok": False, "new_id": None, "error": "gone"}]}
    assert json.loads((admin_dir / RESULTS / f"{'cd' * 16}.json").read_bytes()) == {
        "request": "cd" * 16, "refused": "not a regular file with one name", "at": 4.0, "results": []}
    assert stat.S_IMODE((admin_dir / RESULTS / f"{'cd' * 16}.json").stat().st_mode) == 0o640


def test_no_result_yet_another_name_or_a_broken_one_reads_as_none(admin_dir):
    assert read_result(admin_dir, "ab" * 16) is None
    assert read_result(admin_dir, "../status") is None
    (admin_dir / RESULTS / f"{'ef' * 16}.json").write_text('{"request": "x"}')
    assert read_result(admin_dir, "ef" * 16) is None
