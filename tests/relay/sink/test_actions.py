"""The inbox's release and upload, as pages and as /api/v1/ calls (Flask's test client over a
real Maildir, a second real sink on 127.0.0.1 to release to, a real pickup folder), and
upload's answers compared with `relay drop` run as a process on the same file."""

from __future__ import annotations

import io
import os
import re
import subprocess
from html import unescape
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from relay.sink.inbox import create_inbox
from relay.sink.maildir import Maildir
from relay.sink.server import Sink
from tests.configs import build_config, config_file
from tests.ports import free_port
from tests.relay.relay_helpers import RELAY_BIN, relay_cmd, wait_until

OWN_PAGE = {"Origin": "http://localhost"}
ANOTHER_SITE = {"Origin": "http://evil.example"}
CAPTURED = (b"From: Q&A <noreply@example.test>\nTo: ann@example.test\nSubject: Activate\n\n"
            b"Hello Ann,\nopen http://127.0.0.1:5000/activate/abc\n")
GOOD = b"From: Site <noreply@example.test>\r\nTo: ann@example.test, bob@example.test\r\n" \
       b"Subject: Password reset\r\n\r\nFollow the link.\r\n"
MAX_SIZE = 1000
BAD_FILES = {
    "malformed.eml": b"this is not a message, only a line of text\r\n",
    "huge.eml": GOOD + b"x" * (MAX_SIZE * 2) + b"\r\n",
    "empty.eml": b"",
    "nobody.eml": b"From: site@example.test\r\nSubject: to nobody\r\n\r\nbody\r\n",
    "nul.eml": b"From: a@example.test\r\nTo: b@example.test\r\n\r\nbinary \0 here\r\n",
}


@pytest.fixture
def second(tmp_path):
    """Another real sink on 127.0.0.1: the "real" SMTP server a message is released to."""
    with Sink(tmp_path / "second") as server:
        yield server


def tables(second_port: int | None = None) -> dict:
    release = {"host": "127.0.0.1", "port": second_port, "tls": "none",
               "allowed_recipients": ["example.org"]} if second_port else {}
    return {"relay": {"max_message_size": MAX_SIZE}, "sink": {"maildir": "sink", "release": release}}


@pytest.fixture
def inbox(tmp_path, second):
    """The inbox app with a config: pickup in tmp_path/pickup, release to the second sink."""
    config = build_config(tmp_path, **tables(second.port))
    return create_inbox(config.sink.maildir, config=config).test_client()


def captured_message(tmp_path) -> str:
    return Maildir(tmp_path / "sink").store("noreply@example.test", ["ann@example.test"], CAPTURED).name


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


# --- release --------------------------------------------------------------------------------

def test_the_release_form_sends_the_message_to_the_typed_address(tmp_path, inbox, second):
    name = captured_message(tmp_path)
    form = inbox.get(f"/messages/{name}/release")
    assert 'value="ann@example.test"' in form.get_data(as_text=True)   # its envelope recipients
    assert f"through 127.0.0.1:{second.port}" in text(form)
    assert "Back to “Activate”" in text(form)
    done = inbox.post(f"/messages/{name}/release", data={"to": "me@example.org"}, headers=OWN_PAGE)
    assert done.status_code == 200
    assert f"Released to me@example.org through 127.0.0.1:{second.port}." in text(done)
    [arrived] = second.maildir.messages()
    assert arrived.content == CAPTURED and arrived.recipients == ("me@example.org",)


def test_the_form_refuses_an_address_outside_the_allow_list_and_sends_nothing(tmp_path, inbox, second):
    name = captured_message(tmp_path)
    refused = inbox.post(f"/messages/{name}/release", data={"to": "ann@example.test"}, headers=OWN_PAGE)
    assert refused.status_code == 403
    assert ("<ann@example.test> is not in [sink.release] allowed_recipients (example.org); "
            "nothing was sent") in text(refused)
    assert second.maildir.count() == 0


def test_a_release_from_another_sites_page_is_refused(tmp_path, inbox, second):
    name = captured_message(tmp_path)
    assert inbox.post(f"/messages/{name}/release", data={"to": "me@example.org"},
                      headers=ANOTHER_SITE).status_code == 403
    assert inbox.post(f"/api/v1/message/{name}/release", json={"to": ["me@example.org"]},
                      headers=ANOTHER_SITE).status_code == 403
    assert second.maildir.count() == 0


def test_the_api_releases_and_says_to_whom(tmp_path, inbox, second):
    name = captured_message(tmp_path)
    done = inbox.post(f"/api/v1/message/{name}/release", json={"to": ["me@example.org"]})
    assert done.status_code == 200
    assert done.get_json() == {"sent_to": ["me@example.org"], "server": f"127.0.0.1:{second.port}",
                               "refused": []}
    as_curl_sends_it = inbox.post(f"/api/v1/message/{name}/release", data='{"to": ["me@example.org"]}',
                                  content_type="application/x-www-form-urlencoded")
    assert as_curl_sends_it.status_code == 200
    assert second.maildir.count() == 2


def test_the_api_answers_each_refusal_with_its_status_and_reason(tmp_path, inbox, second):
    name = captured_message(tmp_path)
    outside = inbox.post(f"/api/v1/message/{name}/release", json={"To": ["ann@example.test"]})
    assert outside.status_code == 403 and "allowed_recipients" in outside.get_json()["error"]
    not_json = inbox.post(f"/api/v1/message/{name}/release", json=["me@example.org"])
    assert not_json.status_code == 400 and '{"to": [' in not_json.get_json()["error"]
    missing = inbox.post("/api/v1/message/no-such-message/release", json={"to": ["me@example.org"]})
    assert missing.status_code == 404 and missing.get_json() == {"error": "no message no-such-message"}


def test_the_api_answers_502_when_the_server_is_down(tmp_path):
    port = free_port()   # nobody listens there
    config = build_config(tmp_path, **tables(port))
    inbox = create_inbox(config.sink.maildir, config=config).test_client()
    name = captured_message(tmp_path)
    down = inbox.post(f"/api/v1/message/{name}/release", json={"to": ["me@example.org"]})
    assert down.status_code == 502
    assert down.get_json() == {"error": f"not released: connection to 127.0.0.1:{port} refused"}


def test_without_a_release_host_the_form_says_how_to_turn_it_on_and_the_api_409(tmp_path):
    config = build_config(tmp_path, **tables())
    name = captured_message(tmp_path)
    inbox = create_inbox(config.sink.maildir, config=config).test_client()
    assert "Release is off. To send a captured message on" in text(inbox.get(f"/messages/{name}/release"))
    off = inbox.post(f"/api/v1/message/{name}/release", json={})
    assert off.status_code == 409 and "set [sink.release] host" in off.get_json()["error"]


# --- upload ---------------------------------------------------------------------------------

def upload(inbox, files: dict[str, bytes], priority: str = "transactional"):
    data = {"files": [(io.BytesIO(content), name) for name, content in files.items()],
            "priority": priority}
    return inbox.post("/upload", data=data, headers=OWN_PAGE, content_type="multipart/form-data")


def test_an_uploaded_file_lands_in_pickup_byte_for_byte_with_relay_drops_line(tmp_path, inbox):
    assert "Place in pickup" in text(inbox.get("/upload"))
    done = upload(inbox, {"reset.eml": GOOD}, priority="bulk")
    [placed] = (tmp_path / "pickup").iterdir()
    assert placed.read_bytes() == GOOD and placed.name.endswith(".bulk.eml")
    assert f"queued  reset.eml -> {placed} (from <noreply@example.test>, 2 recipients)" in \
        unescape(done.get_data(as_text=True))


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_is_refused_in_the_words_of_relay_drop(tmp_path, inbox, name):
    source = tmp_path / name
    source.write_bytes(BAD_FILES[name])
    dropped = relay_cmd(config_file(tmp_path, **tables()), "drop", str(source))
    assert dropped.returncode == 1
    [drop_line] = dropped.stderr.splitlines()
    reason = drop_line.removeprefix(f"refused {source}: ")

    page = upload(inbox, {name: BAD_FILES[name]})
    assert f"refused {name}: {reason}" in unescape(page.get_data(as_text=True))
    api = inbox.post("/api/v1/pickup", data=BAD_FILES[name], content_type="message/rfc822")
    assert api.status_code == 400 and api.get_json() == {"error": reason}
    assert list((tmp_path / "pickup").iterdir()) == []


def test_the_page_answers_each_of_several_files(tmp_path, inbox):
    page = unescape(upload(inbox, {"good.eml": GOOD, "empty.eml": b""}).get_data(as_text=True))
    assert "queued  good.eml -> " in page and "refused empty.eml: empty file: no headers, no body" in page
    assert len(list((tmp_path / "pickup").iterdir())) == 1


def test_the_api_takes_a_raw_body_or_a_multipart_file(tmp_path, inbox):
    raw = inbox.post("/api/v1/pickup", data=GOOD, content_type="message/rfc822")
    assert raw.status_code == 201
    body = raw.get_json()
    assert body["sender"] == "noreply@example.test"
    assert body["recipients"] == ["ann@example.test", "bob@example.test"]
    assert Path(body["file"]).read_bytes() == GOOD and not body["file"].endswith(".bulk.eml")
    multipart = inbox.post("/api/v1/pickup?priority=bulk", data={"file": (io.BytesIO(GOOD), "x.eml")},
                           content_type="multipart/form-data")
    assert multipart.status_code == 201 and multipart.get_json()["file"].endswith(".bulk.eml")
    assert len(list((tmp_path / "pickup").iterdir())) == 2


def test_an_upload_from_another_sites_page_is_refused(tmp_path, inbox):
    page = inbox.post("/upload", data={"files": [(io.BytesIO(GOOD), "x.eml")]}, headers=ANOTHER_SITE,
                      content_type="multipart/form-data")
    api = inbox.post("/api/v1/pickup", data=GOOD, content_type="message/rfc822",
                     headers={"Sec-Fetch-Site": "cross-site"})
    assert page.status_code == 403 and api.status_code == 403
    assert list((tmp_path / "pickup").iterdir()) == []


def test_a_request_over_the_upload_limit_is_413_saying_so(tmp_path, inbox):
    api = inbox.post("/api/v1/pickup", data=b"x" * (11 * MAX_SIZE + 70_000), content_type="message/rfc822")
    assert api.status_code == 413 and "send at most 10 messages at once" in api.get_json()["error"]
    page = upload(inbox, {"big.eml": b"x" * (11 * MAX_SIZE + 70_000)})
    assert page.status_code == 413 and "send at most 10 messages at once" in text(page)


def test_without_a_config_upload_is_off_and_says_why(tmp_path):
    inbox = create_inbox(tmp_path / "sink").test_client()
    assert "upload is off" in text(inbox.get("/upload"))
    off = inbox.post("/api/v1/pickup", data=GOOD, content_type="message/rfc822")
    assert off.status_code == 409 and off.get_json()["error"].startswith("upload is off")


def test_relay_inbox_takes_an_upload_into_the_configured_pickup_folder(tmp_path):
    port = free_port()
    config = config_file(tmp_path, sink={"maildir": "mail", "web_port": port})
    env = {k: v for k, v in os.environ.items() if k != "PICKUP_RELAY_CONFIG"}
    proc = subprocess.Popen([str(RELAY_BIN), "--config", str(config), "inbox"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def post() -> int:
            request = Request(f"http://127.0.0.1:{port}/api/v1/pickup", data=GOOD, method="POST",
                              headers={"Content-Type": "message/rfc822"})
            try:
                with urlopen(request, timeout=2) as response:
                    return response.status
            except HTTPError as e:
                return e.code
            except OSError:
                return 0   # not listening yet

        wait_until(lambda: post() == 201 or proc.poll() is not None, what="the upload taken")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    [placed] = (tmp_path / "pickup").iterdir()
    assert placed.read_bytes() == GOOD
