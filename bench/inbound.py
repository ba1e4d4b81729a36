"""How fast does mail come back into the site: `relay receive` storing it, the site handling it.

receive_per_s  N bounces (a ~1 KB multipart/report DSN each, to bounces+TOKEN@ours.test) sent to
               `relay receive` (a subprocess, fresh config.toml) by 4 SMTP clients in parallel
               processes, one connection each; from the first MAIL FROM to the last 250, each
               250 given after the file and its folder were fsynced.
postfix        the same mail sent the same way to a private Postfix instance (config, queue and
               log in the work folder; smtpd -> cleanup -> incoming, fsynced before its 250 too)
               that takes ours.test as a relay domain and, with defer_transports, never sends
               it on: the peer anchor, and receive_per_s / postfix_receive_per_s. Needs root.
process_per_s  drop files the site turns into member state a second (bench/inbound_process.py:
               the inbound worker over N DSNs for N real members, the second round's figure).

Run:  .venv/bin/python bench/inbound.py [-n 5000] [--clients 4] [--dir DIR] [--json]
Each case works in a fresh DIR/bench-inbound-XXXX (default DIR ./var: the root filesystem, where
fsync costs what it costs in production; --dir /dev/shm for tmpfs), removed at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: tests.ports

import inbound_process  # noqa: E402
from mta_runs import POSTFIX, private_postfix, proc_field, stop  # noqa: E402

from tests.ports import free_port  # noqa: E402

RELAY = Path(sys.executable).with_name("relay")
GIVE_UP = 300.0   # seconds a case may take
BOUNCE = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.other.test>\r\n"
    "To: bounces+{token}@ours.test\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "Message-ID: <{token}.bounce@mx.other.test>\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "This is the mail system at host mx.other.test.\r\n\r\n"
    "I'm sorry to have to inform you that your message could not\r\n"
    "be delivered to one or more recipients. It's attached below.\r\n"
    "--b1\r\n"
    "Content-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.other.test\r\n\r\n"
    "Final-Recipient: rfc822; member{token}@other.test\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <member{token}@other.test>: Recipient address rejected\r\n"
    "--b1\r\n"
    "Content-Type: text/rfc822-headers\r\n\r\n"
    "From: Q&A Site <noreply@ours.test>\r\n"
    "To: member{token}@other.test\r\n"
    "Subject: New answer to your question\r\n"
    "--b1--\r\n"
)


class BenchError(Exception):
    pass


def send_share(port: int, first: int, count: int) -> float:
    """One client: `count` bounces over one connection; returns when its last got 250."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.other.test", timeout=60) as smtp:
        for i in range(first, first + count):
            body = BOUNCE.format(token=f"{i:08x}").encode()
            refused = smtp.sendmail("", [f"bounces+{i:08x}@ours.test"], body)
            if refused:
                raise BenchError(f"refused: {refused}")
    return time.monotonic()


def send_all(port: int, n: int, clients: int, share=send_share) -> float:
    """Seconds from the first client's start to the last 250, `clients` processes in parallel,
    each sending its part of the n with `share(port, first, count)`."""
    shares = [(port, k * (n // clients), n // clients + (n % clients if k == clients - 1 else 0))
              for k in range(clients)]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        started = time.monotonic()
        ends = pool.starmap(share, shares)
    return max(ends) - started


def wait_for_port(port: int, alive, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not alive():
            raise BenchError(f"{what} exited before listening")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                smtp.noop()
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"{what} did not answer on 127.0.0.1:{port} in 30 s")


def relay_receive(work: Path, n: int, clients: int) -> dict:
    port = free_port()
    (work / "config.toml").write_text(
        f'[relay]\nlog_level = "warning"\nlog_file = "receive.log"\n\n'
        f'[inbound]\nlisten = "127.0.0.1:{port}"\ndomains = ["ours.test"]\ndir = "drop"\n'
        'client_message_rate = ""\n')
    proc = subprocess.Popen([str(RELAY), "--config", str(work / "config.toml"), "receive"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(work / "receive.err", "wb"))
    try:
        wait_for_port(port, lambda: proc.poll() is None, "relay receive")
        seconds = send_all(port, n, clients)
        rss = proc_field(proc.pid, "VmHWM")
    finally:
        stop(proc)
    stored = sum(1 for p in (work / "drop").iterdir() if p.name.endswith(".eml"))
    if stored != n:
        raise BenchError(f"relay receive stored {stored} of {n}")
    return {"seconds": seconds, "per_s": n / seconds, "rss": rss}


class PostfixReceiver:
    """A private Postfix instance taking mail for ours.test on 127.0.0.1:port into its queue."""

    def __init__(self, work: Path, port: int):
        self.etc, self.spool = private_postfix(
            work, "relay_domains = ours.test\ndefer_transports = relay smtp\nmyhostname = mx.ours.test\n"
                  "smtpd_client_connection_rate_limit = 0\nsmtpd_client_message_rate_limit = 0\n",
            services=f"127.0.0.1:{port} inet n - n - - smtpd\n")

    def postfix(self, command: str) -> None:
        subprocess.run([POSTFIX, "-c", str(self.etc), command], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def queued(self) -> int:
        return sum(len(files) for folder in ("incoming", "active", "deferred")
                   for _root, _dirs, files in os.walk(self.spool / folder))


def postfix_receive(work: Path, n: int, clients: int) -> dict:
    port = free_port()
    postfix = PostfixReceiver(work, port)
    postfix.postfix("start")
    try:
        wait_for_port(port, lambda: True, "postfix smtpd")
        seconds = send_all(port, n, clients)
        deadline = time.monotonic() + GIVE_UP
        while postfix.queued() < n and time.monotonic() < deadline:
            time.sleep(0.2)   # (untimed) every message is a queue file by its 250 already
        queued = postfix.queued()
    finally:
        subprocess.run([POSTFIX, "-c", str(postfix.etc), "stop"], timeout=60, capture_output=True)
    if queued < n:
        raise BenchError(f"postfix queued {queued} of {n}")
    return {"seconds": seconds, "per_s": n / seconds}


def process_rate(work: Path, n: int) -> dict:
    """bench/inbound_process.py's figures for n bounces for n members (two rounds, the last
    counts), in `work`."""
    args = argparse.Namespace(files=n, members=n, batch=inbound_process.BATCH, rounds=2,
                              soft=False, mixed=False, profile=False, sort="tottime")
    return inbound_process.run(args, work)


def in_work_folder(parent: Path, case, *args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-inbound-", dir=parent))
    try:
        return case(work, *args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="bounces per case (default 5000)")
    parser.add_argument("--clients", type=int, default=4, help="parallel SMTP clients (default 4)")
    parser.add_argument("--dir", default="var", help="where the work folders go (default ./var)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    parent = Path(args.dir).resolve()
    parent.mkdir(parents=True, exist_ok=True)
    print(f"{args.n} bounces of {len(BOUNCE.format(token='0' * 8))} bytes, {args.clients} SMTP "
          f"clients, in {parent}")
    figures: dict[str, object] = {"n": args.n, "clients": args.clients, "dir": str(parent)}
    relay = in_work_folder(parent, relay_receive, args.n, args.clients)
    figures["receive_per_s"] = round(relay["per_s"], 1)
    print(f"  relay receive    {relay['per_s']:8.0f} msgs/s  {relay['seconds']:6.2f} s  "
          f"peak RSS {relay['rss']}")
    if os.geteuid() == 0 and os.access(POSTFIX, os.X_OK):
        peer = in_work_folder(parent, postfix_receive, args.n, args.clients)
        figures["postfix_receive_per_s"] = round(peer["per_s"], 1)
        figures["receive_vs_postfix"] = round(relay["per_s"] / peer["per_s"], 2)
        print(f"  postfix smtpd    {peer['per_s']:8.0f} msgs/s  {peer['seconds']:6.2f} s")
        print(f"  relay / postfix  {figures['receive_vs_postfix']:8.2f}x")
    else:
        print(f"  postfix smtpd    SKIPPED: a private Postfix instance needs root and {POSTFIX}")
    processed = in_work_folder(parent, process_rate, args.n)
    figures["process_per_s"] = processed["process_per_s"]
    print(f"  site handling    {processed['process_per_s']:8.0f} drop files/s (bounces into member "
          f"state, the inbound worker; {processed['cpu_us_per_file']:.0f} us CPU a file)")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
