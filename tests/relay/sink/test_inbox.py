"""relay.sink.inbox: the sink's web inbox over a real Maildir (Flask's test client), and `relay inbox`."""

from __future__ import annotations

import base64
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from relay.sink.inbox import PAGE_SIZE, create_inbox
from relay.sink.maildir import Maildir
from relay.sink.server import Sink
from spooler.message import Address, Notification, build
from tests.configs import config_file
from tests.ports import free_port
from tests.relay.relay_helpers import wait_until

RELAY = Path(sys.executable).parent / "relay"
LINK = "http://127.0.0.1:5000/account/activate/" + "Ab3-_x" * 25   # longer than a QP line
HOSTILE = "<script>alert(1)</script>"


def send(sink: Sink, message: bytes, sender: str = "noreply@example.test",
         recipients: tuple[str, ...] = ("ann@example.test",)) -> None:
    with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=10) as client:
        client.sendmail(sender, list(recipients), message)


def activation(subject: str = "Activate your account", html: str | None = None) -> bytes:
    """What the site sends: built by the spooler, quoted-printable, a link longer than a line."""
    return build(Notification(
        sender=Address.parse("Q&A <noreply@example.test>"), to=[Address("ann@example.test", "Ann")],
        subject=subject, text=f"Hello Ann,\n\nopen this link:\n\n{LINK}\n\nQ&A\n", html=html,
    )).content


def stored_at(maildir: Maildir, second: int, content: bytes) -> str:
    path = maildir.store("a@example.test", ["b@example.test"], content)
    os.utime(path, ns=(second * 10**9, second * 10**9))
    return path.name


@pytest.fixture
def client(sink):
    return create_inbox(sink.maildir.root).test_client()


def only_name(sink: Sink) -> str:
    [stored] = sink.maildir.messages()
    return stored.path.name


def test_the_list_shows_from_to_and_subject_newest_first_after_the_sink_stopped(tmp_path):
    with Sink(tmp_path / "sink") as sink:
        for n in range(3):
            send(sink, f"From: Site <site@example.test>\r\nTo: r{n}@example.test\r\n"
                       f"Subject: message {n}\r\n\r\nbody\r\n".encode())
    page = create_inbox(tmp_path / "sink").test_client().get("/").get_data(as_text=True)
    assert [int(n) for n in re.findall(r">message (\d)</a>", page)] == [2, 1, 0]
    assert "Site &lt;site@example.test&gt;" in page and "r2@example.test" in page
    assert "3 messages" in page


def test_a_quoted_printable_text_part_is_shown_decoded_with_the_long_link_whole(sink, client):
    message = activation()
    send(sink, message)
    assert LINK.encode() not in message  # on the wire the link is cut by soft line breaks
    page = client.get(f"/messages/{only_name(sink)}").get_data(as_text=True)
    [link] = re.findall(r'<a href="([^"]+)" target="_blank" rel="noopener noreferrer">', page)
    assert unescape(link) == LINK
    assert "Hello Ann," in page and "=\n" not in page


def test_html_is_shown_only_in_a_sandboxed_iframe_whose_csp_forbids_scripts(sink, client):
    send(sink, activation(html=f'<p id="mark">Activate</p>{HOSTILE}<a href="{LINK}">go</a>'))
    name = only_name(sink)
    page = client.get(f"/messages/{name}/html").get_data(as_text=True)
    [frame] = re.findall(r"<iframe[^>]*>", page)
    sandbox = re.search(r'sandbox="([^"]*)"', frame).group(1).split()
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert f'src="/messages/{name}/html/body"' in frame
    assert 'id="mark"' not in page and "<script>" not in page  # the mail's markup is not in the page
    body = client.get(f"/messages/{name}/html/body")
    csp = body.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert re.search(r"sandbox( [a-z-]+)*$", csp) and "allow-scripts" not in csp
    assert body.headers["X-Content-Type-Options"] == "nosniff"
    assert body.get_data(as_text=True).startswith('<base target="_blank">')  # links open new tabs


def test_a_script_in_a_message_is_never_served_as_html_outside_the_sandbox(sink, client):
    attachment = base64.b64encode(HOSTILE.encode()).decode()
    send(sink, (f'From: "{HOSTILE}" <a@example.test>\r\nTo: b@example.test\r\nSubject: {HOSTILE}\r\n'
                f'X-Note: {HOSTILE}\r\nMIME-Version: 1.0\r\n'
                'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
                f'--b\r\nContent-Type: text/plain\r\n\r\n{HOSTILE}\r\n'
                f'--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>{HOSTILE}\r\n'
                '--b\r\nContent-Type: text/html; name="x.html"\r\nContent-Transfer-Encoding: base64\r\n'
                f'Content-Disposition: attachment; filename="x.html"\r\n\r\n{attachment}\r\n'
                '--b--\r\n').encode())
    name = only_name(sink)
    for path in ("/", f"/messages/{name}", f"/messages/{name}/text", f"/messages/{name}/html",
                 f"/messages/{name}/headers", f"/messages/{name}/source", f"/messages/{name}/raw",
                 f"/messages/{name}/attachments/0", f"/messages/{name}/html/body"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp, path
        assert re.findall(r"script-src[^;]*", csp) in ([], ["script-src 'self'"]), path  # its own file
        if HOSTILE.encode() in response.data:  # only as a file to save, as text, or sandboxed
            assert response.mimetype != "text/html" or re.search(r"sandbox[^;]*$", csp), path
            assert "allow-scripts" not in csp
        elif response.mimetype == "text/html":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.get_data(as_text=True), path
    download = client.get(f"/messages/{name}/attachments/0")
    assert download.mimetype == "application/octet-stream"
    assert download.headers["Content-Disposition"] == "attachment; filename=x.html"


@pytest.mark.parametrize("disposition", [
    "attachment; filename*=utf-8''evil%0D%0ASet-Cookie%3A%20x%3D1%0D%0A.txt",     # RFC 2231
    'attachment; filename="=?utf-8?b?ZXZpbA0KU2V0LUNvb2tpZTogeD0xDQoudHh0?="',   # RFC 2047
    'attachment; filename="evil\u2028Set-Cookie: x=1\u0085.txt"',
])
def test_an_attachment_name_with_a_line_break_is_shown_and_served_on_one_line(sink, client,
                                                                             disposition):
    """CR/LF in a file name reached the download's Content-Disposition: a 500, not the file."""
    data = base64.b64encode(b"the file").decode()
    send(sink, ('From: a@example.test\r\nTo: b@example.test\r\nSubject: a file\r\n'
                'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
                '--b\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n'
                '--b\r\nContent-Type: application/octet-stream\r\n'
                f'Content-Transfer-Encoding: base64\r\nContent-Disposition: {disposition}\r\n\r\n'
                f'{data}\r\n--b--\r\n').encode())
    name = only_name(sink)
    download = client.get(f"/messages/{name}/attachments/0")
    assert download.status_code == 200 and download.data == b"the file"
    assert "Set-Cookie" not in download.headers
    disposition_sent = download.headers["Content-Disposition"]
    assert disposition_sent.startswith("attachment; filename=") and "evil" in disposition_sent
    assert not any(c in disposition_sent for c in "\r\n\u2028\x85")
    page = client.get(f"/messages/{name}")
    assert page.status_code == 200
    assert "evil Set-Cookie: x=1 .txt" in page.get_data(as_text=True)


def test_headers_view_shows_every_header_decoded(sink, client):
    send(sink, b"From: =?utf-8?q?Zo=C3=AB?= <zoe@example.test>\r\nTo: b@example.test\r\n"
               b"Subject: =?utf-8?b?Q2Fmw6kgb3BlbnM=?=\r\nX-Mailer: test\r\n\r\nbody\r\n")
    page = client.get(f"/messages/{only_name(sink)}/headers").get_data(as_text=True)
    headers = dict(re.findall(r"<tr><th>([^<]+)</th><td>([^<]*)</td></tr>", page))
    assert headers == {"From": "Zoë &lt;zoe@example.test&gt;", "To": "b@example.test",
                       "Subject": "Café opens", "X-Mailer": "test"}


def test_source_and_raw_show_the_message_as_received_as_text(sink, client):
    message = activation()
    send(sink, message)
    name = only_name(sink)
    raw = client.get(f"/messages/{name}/raw")
    assert raw.mimetype == "text/plain"
    assert raw.data == message.replace(b"\r\n", b"\n")
    page = client.get(f"/messages/{name}/source").get_data(as_text=True)
    assert "Content-Transfer-Encoding: quoted-printable" in page
    assert f'href="/messages/{name}/raw"' in page


def test_a_latin1_header_and_an_unknown_charset_still_show(sink, client):
    send(sink, b"Subject: caf\xe9\r\nTo: b@example.test\r\nContent-Type: text/plain; charset=x-unknown\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode("café".encode()) + b"\r\n")
    name = only_name(sink)
    assert "caf\N{REPLACEMENT CHARACTER}" in client.get("/").get_data(as_text=True)
    assert "café" in client.get(f"/messages/{name}").get_data(as_text=True)


def test_clear_removes_the_messages_on_a_post_from_the_inbox_itself(sink, client):
    send(sink, activation())
    send(sink, activation())
    response = client.post("/clear", headers={"Origin": "http://localhost"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert sink.maildir.count() == 0
    send(sink, activation())  # a browser that sends no Origin, but says where it comes from
    assert client.post("/clear", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303
    assert sink.maildir.count() == 0
    assert "No mail yet" in client.get("/").get_data(as_text=True)


def test_clear_does_nothing_on_a_get_or_a_post_from_elsewhere(sink, client):
    send(sink, activation())
    assert client.get("/clear").status_code == 405
    assert client.post("/clear", headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/clear", headers={"Origin": "null"}).status_code == 403
    assert client.post("/clear", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/clear").status_code == 403  # nothing says where it comes from
    assert sink.maildir.count() == 1


def test_the_inbox_answers_only_at_a_loopback_host(sink, client):
    send(sink, activation())
    assert client.get("/", headers={"Host": "rebound.example:8025"}).status_code == 400
    response = client.post("/clear", headers={"Host": "rebound.example:8025",
                                              "Origin": "http://rebound.example:8025"})
    assert response.status_code == 400 and sink.maildir.count() == 1
    assert client.get("/", headers={"Host": "127.0.0.1:8025"}).status_code == 200


def test_a_name_that_is_not_a_message_is_not_found(sink, client):
    send(sink, activation())
    (sink.maildir.root / "tmp" / "writing").write_bytes(b"Subject: half\n")
    for name in ("nothing", "..%2Ftmp%2Fwriting", ".hidden"):
        assert client.get(f"/messages/{name}").status_code == 404, name
    assert client.get(f"/messages/{only_name(sink)}/attachments/3").status_code == 404


def test_a_maildir_of_1000_messages_is_paged_newest_first_by_older_links(tmp_path):
    maildir = Maildir(tmp_path / "md")
    for n in range(1000):
        stored_at(maildir, 1_000_000 + n, f"Subject: message {n}\n\nx\n".encode())
    client = create_inbox(maildir.root).test_client()
    seen, path = [], "/"
    for _ in range(1000 // PAGE_SIZE + 1):
        page = client.get(path).get_data(as_text=True)
        seen += [int(n) for n in re.findall(r">message (\d+)</a>", page)]
        assert "1,000 messages" in page
        older = re.search(r'class="older" rel="next" href="([^"]+)"', page)
        if older is None:
            break
        path = unescape(older.group(1))
    assert seen == list(range(999, -1, -1))   # each message once, newest first
    assert 'class="newest"' in page


# --- `relay inbox` as a real process -------------------------------------------------------------

def test_relay_inbox_serves_the_configured_maildir_and_stops_on_sigterm(tmp_path):
    port = free_port()
    Maildir(tmp_path / "mail").store("a@example.test", ["b@example.test"], b"Subject: kept\n\nx\n")
    config = config_file(tmp_path, sink={"maildir": "mail", "web_port": port})
    env = {k: v for k, v in os.environ.items() if k != "PICKUP_RELAY_CONFIG"}
    proc = subprocess.Popen([str(RELAY), "--config", str(config), "inbox"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from urllib.request import urlopen

        def page() -> str:
            try:
                with urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    return response.read().decode()
            except OSError:
                return ""

        wait_until(lambda: "kept" in page() or proc.poll() is not None, what="the inbox page")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0
    assert out.splitlines() == [f"inbox: http://127.0.0.1:{port} shows {tmp_path / 'mail'}/new",
                                "inbox: stopped"]


def test_relay_inbox_with_web_port_0_says_it_is_off(tmp_path):
    config = config_file(tmp_path, sink={"web_port": 0})
    proc = subprocess.run([str(RELAY), "--config", str(config), "inbox"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2 and "web_port = 0" in proc.stderr


def test_relay_inbox_names_a_maildir_it_cannot_use_not_the_port(tmp_path):
    (tmp_path / "a-file").write_text("not a folder\n")
    config = config_file(tmp_path, sink={"web_port": free_port(), "maildir": "a-file/mail"})
    proc = subprocess.run([str(RELAY), "--config", str(config), "inbox"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1
    assert "cannot use the Maildir" in proc.stderr and "a-file/mail" in proc.stderr
    assert "cannot listen" not in proc.stderr


def test_relay_inbox_names_a_port_it_cannot_take(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = config_file(tmp_path, sink={"web_port": port, "maildir": "mail"})
        proc = subprocess.run([str(RELAY), "--config", str(config), "inbox"], capture_output=True,
                              text=True, timeout=30)
    assert proc.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in proc.stderr
