"""Helpers for the inbound tests: a config whose [inbound] takes mail for ours.test on a free
port of 127.0.0.1, the drop folder's files, an SMTP client from a chosen loopback address, and a
bounce (multipart/report) to send."""

from __future__ import annotations

import smtplib
from pathlib import Path

from settings import Config
from tests.configs import build_config
from tests.ports import free_port

OURS = "ours.test"
BOUNCE = (
    b"From: Mail Delivery System <MAILER-DAEMON@mx.other.test>\r\n"
    b"To: bounces+t0k3n@ours.test\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain\r\n\r\n"
    b"I'm sorry to have to inform you that your message could not be delivered.\r\n"
    b"--b1\r\n"
    b"Content-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.other.test\r\n\r\n"
    b"Final-Recipient: rfc822; gone@other.test\r\n"
    b"Action: failed\r\n"
    b"Status: 5.1.1\r\n"
    b"--b1--\r\n"
)


def inbound_config(tmp_path: Path, **inbound: object) -> Config:
    """[inbound] for ours.test on a free port, the drop folder tmp_path/drop (made), no message
    rate limit; keywords are [inbound] keys over those."""
    table = {"listen": f"127.0.0.1:{free_port()}", "domains": [OURS], "dir": "drop",
             "client_message_rate": "", **inbound}
    config = build_config(tmp_path, inbound=table)
    config.inbound.dir.mkdir(parents=True, exist_ok=True)
    return config


def client(config: Config, source: str = "127.0.0.1") -> smtplib.SMTP:
    """An SMTP client connected to `relay receive` from `source` (any 127.x address), after EHLO."""
    port = int(config.inbound.listen.rpartition(":")[2])
    smtp = smtplib.SMTP("127.0.0.1", port, local_hostname="client.other.test", timeout=10,
                        source_address=(source, 0))
    smtp.ehlo()
    return smtp


def dropped(config: Config) -> list[Path]:
    """Every file in the drop folder, hidden ones too (a failed write must leave none)."""
    return sorted(p for p in config.inbound.dir.iterdir() if p.is_file())
