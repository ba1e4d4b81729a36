"""The exact bytes the relay puts on the wire: one transaction per file, whatever the file holds.

The recording server ends DATA only at CRLF "." CRLF, as a strict server does; a lenient
one also ends it at a bare CR or LF around a dot. So beyond counting transactions, each test
checks what a lenient server would need to be safe: every line ends CRLF, with no CR or LF
inside it, and no line of DATA is a single ".".
"""

from __future__ import annotations

import pytest

from tests.relay.relay_helpers import RunningRelay, files, relay_config, wait_until
from tests.smtp_servers import RecordingServer, Transaction

HEAD = (b"From: Site <site@example.test>\r\nTo: ann@example.test\r\nSubject: hello\r\n"
        b"Message-ID: <wire@example.test>\r\n\r\n")
SMUGGLED = (b"MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@bank.example>\r\nDATA\r\n"
            b"From: <ceo@bank.example>\r\nSubject: urgent\r\n\r\nWire the money.\r\n")


def deliver_one(tmp_path, data: bytes) -> tuple[RecordingServer, list[Transaction]]:
    """Drop `data` in pickup by hand, run the relay until it is sent; the server and what it got."""
    with RecordingServer() as server:
        config = relay_config(tmp_path, server.port)
        (config.pickup.dir / "by-hand.eml").write_bytes(data)
        with RunningRelay(config) as relay:
            wait_until(lambda: relay.counts["sent"] == 1, what="the delivery")
    return server, server.received()


def mail_commands(server: RecordingServer) -> list[bytes]:
    return [c for c in server.commands if c[:4].upper() in (b"MAIL", b"RCPT", b"DATA")]


@pytest.mark.parametrize("dot_line", [
    b"\r.\r", b"\r.\r\n", b"\n.\n", b"\n.\r\n", b"\r\n.\r", b"\r\n.\r\n",
], ids=["CR.CR", "CR.CRLF", "LF.LF", "LF.CRLF", "CRLF.CR", "CRLF.CRLF"])
def test_a_smuggled_dot_line_cannot_start_a_second_transaction(tmp_path, dot_line):
    server, [sent] = deliver_one(tmp_path, HEAD + b"line1" + dot_line + SMUGGLED)
    assert mail_commands(server) == [b"MAIL FROM:<site@example.test>", b"RCPT TO:<ann@example.test>",
                                     b"DATA"]
    assert (sent.sender, sent.recipients) == ("site@example.test", ["ann@example.test"])
    lines = sent.lines()
    assert b"." not in lines
    assert lines[lines.index(b"line1"):lines.index(b"line1") + 3] == [
        b"line1", b"..", b"MAIL FROM:<ceo@bank.example>"]
    assert sent.text() == HEAD + b"line1\r\n.\r\n" + SMUGGLED  # the smuggled text is body text


def test_a_nul_sends_nothing_and_goes_to_badmail_naming_the_line(tmp_path):
    with RecordingServer() as server:
        config = relay_config(tmp_path, server.port)
        (config.pickup.dir / "nul.eml").write_bytes(HEAD + b"line1\r\n\x00.\r\n" + SMUGGLED)
        with RunningRelay(config):
            badmail = config.relay.queue_dir / "badmail"
            wait_until(lambda: files(badmail, "*.bdr"), what="badmail")
    [reason] = files(badmail, "*.bdr")
    assert "line 7 contains a NUL byte" in reason.read_text()
    assert server.received() == [] and mail_commands(server) == []


def test_every_line_ends_crlf_on_the_wire_whatever_the_file_used(tmp_path):
    mixed = (b"From: Site <site@example.test>\nTo: ann@example.test\rSubject: mixed\r\n"
             b"Message-ID: <mixed@example.test>\n\r\nunix\nold mac\rwindows\r\nno end")
    _server, [sent] = deliver_one(tmp_path, mixed)
    assert sent.data == (b"From: Site <site@example.test>\r\nTo: ann@example.test\r\nSubject: mixed\r\n"
                         b"Message-ID: <mixed@example.test>\r\n\r\nunix\r\nold mac\r\nwindows\r\n"
                         b"no end\r\n")


def test_a_100_kb_header_line_and_a_5000_byte_body_line_arrive_as_lines_of_at_most_998(tmp_path):
    references = b"References: " + b" ".join(f"<{n}@example.test>".encode() for n in range(6000))
    assert len(references) > 100_000
    data = HEAD.replace(b"\r\n\r\n", b"\r\n" + references + b"\r\n\r\n") + b"x" * 5000 + b"\r\n"
    _server, [sent] = deliver_one(tmp_path, data)
    lines = sent.lines()
    assert max(map(len, lines)) <= 998
    text = sent.text()
    assert text.replace(b"\r\n <", b" <").startswith(HEAD[:-2] + references + b"\r\n\r\n")
    body = text.split(b"\r\n\r\n", 1)[1]
    assert body.replace(b"\r\n ", b"") == b"x" * 5000 + b"\r\n"
