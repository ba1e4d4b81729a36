"""The mail transfer agents the relay benchmarks drive: `relay run` and a private Postfix.

RelayRun writes a fresh config.toml in a work folder (log_level "warning"; with dkim,
[relay.dkim] for example.test, selector "bench", the work folder's dkim.key), fills its
pickup with PickupWriter(durable=False) and starts `relay run` as a subprocess.
PostfixRun is a private Postfix instance in the work folder (config, queue and log
there, no listener) whose maildrop `sendmail -C` fills while it is stopped; with dkim
it signs through a private OpenDKIM milter (bench/opendkim.py) on a unix socket as
`non_smtpd_milters`, and `milter_default_action = tempfail`, so no message can leave
unsigned. Both need only what the benchmark hands them; message() is the ~2 KB
notification every case sends. A private Postfix needs root and /usr/sbin/postfix.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opendkim import DOMAIN, SELECTOR, OpenDkim

from spooler.message import Address, Notification, build
from spooler.pickup import PickupWriter

SMTP_SINK, POSTFIX, SENDMAIL = "/usr/sbin/smtp-sink", "/usr/sbin/postfix", "/usr/sbin/sendmail"
RELAY = Path(sys.executable).with_name("relay")
SETTLE = 2.1             # the relay's start-up scan takes files older than 2 s at once
PARAGRAPH = ("Someone answered your question about keeping web requests fast when they "
             "send email: write the message to a pickup folder and let a relay forward it.\n")
MASTER_CF = "".join(f"{line}\n" for line in (   # no chroot, no listener: only what relaying needs
    "pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
    "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce", "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify",
    "proxymap unix - - n - - proxymap", "smtp unix - - n - - smtp", "relay unix - - n - - smtp",
    "error unix - - n - - error", "retry unix - - n - - error", "showq unix n - n - - showq",
    "flush unix n - n 1000? 0 flush", "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd"))


class BenchError(Exception):
    pass


def message(i: int):
    text = f"Hello User {i},\n\n" + PARAGRAPH * 4 + f"\nhttps://qa.example.test/q/{i}\n"
    html = "<html><body>" + f"<p>{PARAGRAPH}</p>" * 4 + f"<a href='/q/{i}'>answer</a></body></html>"
    return build(Notification(sender=Address(f"noreply@{DOMAIN}", "Q&A Site"),
                              to=[Address(f"user{i}@example.test", f"User {i}")],
                              subject="New answer to your question", text=text, html=html))


def proc_field(pid: int, name: str) -> str:
    """A field of /proc/PID/status ("" if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(name + ":")), "")
    except OSError:
        return ""


def stop(proc: subprocess.Popen | None, grace: float = 20.0) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def make_certificate(work: Path) -> None:
    """ca.pem, and cert.pem + key.pem for 127.0.0.1 signed by it, in the work folder."""
    import trustme  # a test dependency: only the STARTTLS case needs it

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(work / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(work / "cert.pem"))
    cert.private_key_pem.write_to_path(str(work / "key.pem"))


class RelayRun:
    """`relay run` on the work folder's pickup, relaying to the sink's port (over STARTTLS if `tls`)."""

    def __init__(self, work: Path, port: int, connections: int, processes: int, tls: bool = False,
                 dkim: bool = False):
        self.work, self.proc, self.log = work, None, work / "relay.log"
        starttls = 'tls = "starttls"\nca_file = "ca.pem"\n' if tls else ""
        signing = (f'\n[relay.dkim]\ndomain = "{DOMAIN}"\nselector = "{SELECTOR}"\n'
                   'key_file = "dkim.key"\n') if dkim else ""
        (work / "config.toml").write_text(
            f'[pickup]\ndir = "pickup"\n\n[relay]\nqueue_dir = "queue"\nconnections = {connections}\n'
            f'processes = {processes}\nlog_level = "warning"\n\n'
            f'[relay.smarthost]\nhost = "127.0.0.1"\nport = {port}\n{starttls}{signing}')
        (work / "pickup").mkdir()
        self.writer = PickupWriter(work / "pickup", durable=False)

    def fill(self, n: int) -> None:
        for i in range(n):
            self.drop(i)
        self.filled_at = time.monotonic()

    def drop(self, i: int) -> None:
        self.writer.write(message(i))

    def settle(self) -> None:
        """Wait until the backlog is old enough for the start-up scan to take at once (untimed)."""
        time.sleep(max(0.0, self.filled_at + SETTLE - time.monotonic()))

    def start(self) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([str(RELAY), "--config", str(self.work / "config.toml"), "run"],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def pids(self) -> list[int]:
        """The relay process and, with several processes, its supervisor's children."""
        if not self.alive():
            return []
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [self.proc.pid] + [int(p) for p in children.read_text().split()]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        stop(self.proc)


def private_postfix(work: Path, settings: str, services: str = "") -> tuple[Path, Path]:
    """A Postfix instance's etc/ and spool/ in `work` (its log in work/postfix.log), with
    `settings` added to main.cf and `services` to master.cf; checked, which makes the queue."""
    etc, spool = work / "etc", work / "spool"
    work.chmod(0o755)   # the postfix user must reach its queue
    for folder in (etc, spool, work / "data"):
        folder.mkdir(mode=0o755)
    shutil.chown(work / "data", "postfix")
    (etc / "master.cf").write_text(MASTER_CF + services)
    (etc / "main.cf").write_text(
        f"compatibility_level = 3.6\nqueue_directory = {spool}\ndata_directory = {work}/data\n"
        "inet_interfaces = loopback-only\ninet_protocols = ipv4\nmydestination =\n"
        "alias_maps =\nalias_database =\nlocal_recipient_maps =\nsmtp_dns_support_level = disabled\n"
        f"maillog_file = {work}/postfix.log\nmaillog_file_prefixes = {work}\n" + settings)
    subprocess.run([POSTFIX, "-c", str(etc), "check"], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return etc, spool


class PostfixRun(RelayRun):
    """A private Postfix instance (config, queue and log in the work folder); with dkim, signing
    through a private OpenDKIM on a unix socket (the same key as the relay's)."""

    def __init__(self, work: Path, port: int, connections: int, processes: int, tls: bool = False,
                 dkim: bool = False):
        self.work, self.log = work, work / "postfix.log"
        self.milter = OpenDkim(work, work / "dkim.key") if dkim else None
        # tempfail: a message the milter did not see stays queued, it never leaves unsigned
        milter = (f"non_smtpd_milters = unix:{self.milter.socket}\nmilter_protocol = 6\n"
                  "milter_default_action = tempfail\n") if self.milter else ""
        self.etc, self.spool = private_postfix(work, f"relayhost = [127.0.0.1]:{port}\n"
                                                     f"myhostname = bench.{DOMAIN}\n" + milter)

    def postfix(self, command: str) -> None:
        subprocess.run([POSTFIX, "-c", str(self.etc), command], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def fill(self, n: int) -> None:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(self.drop, range(n)))

    def drop(self, i: int) -> None:
        m = message(i)
        subprocess.run([SENDMAIL, "-C", str(self.etc), "-f", m.sender, "--", *m.recipients],
                       input=m.content, check=True, timeout=60, stderr=subprocess.DEVNULL)

    def settle(self) -> None:
        """Its maildrop is read by `pickup` as soon as Postfix starts; the milter, a service
        Postfix relies on like the sink, is started here, untimed."""
        if self.milter is not None:
            self.milter.start()

    def start(self) -> None:
        self.postfix("start")

    def master(self) -> int | None:
        try:
            pid = int((self.spool / "pid" / "master.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if proc_field(pid, "Name") == "master" else None   # else gone: a stale pid file

    def alive(self) -> bool:
        return self.master() is not None

    def pids(self) -> list[int]:
        """master and its children, and the milter when it signs (its memory is Postfix's cost)."""
        if (master := self.master()) is None:
            return []
        milter = [self.milter.proc.pid] if self.milter is not None and self.milter.alive() else []
        return [master] + [int(p) for p in os.listdir("/proc")
                           if p.isdigit() and proc_field(int(p), "PPid") == str(master)] + milter

    def stop(self) -> None:
        if self.master() is not None:
            subprocess.run([POSTFIX, "-c", str(self.etc), "stop"], timeout=60, capture_output=True)
        deadline = time.monotonic() + 20
        while self.master() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.pids():
            if self.milter is None or pid != self.milter.proc.pid:
                os.kill(pid, signal.SIGKILL)
        if self.milter is not None:
            self.milter.stop()
