"""How fast does `relay run` drain a pickup backlog, and how fast does it forward one message?

N ~2 KB notifications (spooler.message.build, PickupWriter(durable=False)) are put in pickup
*before* `relay run` starts (a subprocess, fresh config.toml, log_level "warning"). Per case:
  msgs/s, seconds  from starting the relay process until the sink has all N (includes
                   interpreter start-up and the start-up scan of pickup)
  drain/s          N-1 over the time from the first to the last arrival (start-up left out)
  peak RSS MB      VmHWM summed over the relay process and its children (by default `relay
                   run` is a supervisor with one relay per CPU), read just before stopping it
  idle latency     after the drain, 50 messages written one at a time, each waited for,
                   20 ms apart (kept connections are reused): median / max ms, write -> sink
Cases: relay -> `relay sink` (aiosmtpd + Maildir, ~1 ms of CPU a message: above ~1,000/s it
measures the sink); with --starttls also relay -> `relay sink --tls-cert` over STARTTLS (a CA
and certificate made with trustme in the work folder, [relay.smarthost] ca_file pointing at
it, so the certificate is verified) and the STARTTLS/plaintext ratio of msgs/s;
with --dkim also each plaintext relay case with DKIM signing on ([relay.dkim] for the messages'
From domain, a 2048-bit RSA key made in the work folder) and the DKIM/unsigned ratio of msgs/s
and drain/s;
relay -> /usr/sbin/smtp-sink -c (Postfix's C sink; skipped if missing);
postfix -> smtp-sink, the peer anchor: a private Postfix instance (config, queue and log in the
work folder, no listener) whose maildrop is filled by `sendmail -C` while it is stopped, then
`postfix start`; its latency includes a `sendmail` call and its RSS is the sum of VmHWM over
master and its children. Arrivals are counted from the sinks' stdout by a thread (no polling).

Run:  .venv/bin/python bench/relay_throughput.py [-n 10000] [--connections 4] [--processes 0]
          [--dir /dev/shm] [--sink relay|smtp-sink|postfix|all] [--starttls] [--dkim] [--json]
      (the postfix case needs root; --json: the figures as one JSON line at the end)
Each case works in a fresh DIR/bench-relay-XXXX (default DIR ./var), removed at the end. The
root fs here is ext4 without a journal (file creation slows after thousands of files): compare
with --dir /dev/shm, and compare ratios within one run (see MEASUREMENTS.md in the shared project notes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: tests.ports

from spooler.message import Address, Notification, build  # noqa: E402
from spooler.pickup import PickupWriter  # noqa: E402
from tests.ports import free_port  # noqa: E402

SMTP_SINK, POSTFIX, SENDMAIL = "/usr/sbin/smtp-sink", "/usr/sbin/postfix", "/usr/sbin/sendmail"
RELAY = Path(sys.executable).with_name("relay")
GIVE_UP = 600.0          # seconds a drain may take before the benchmark gives up
LATENCY_SAMPLES = 50
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
    return build(Notification(sender=Address("noreply@example.test", "Q&A Site"),
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


def make_dkim_key(work: Path) -> None:
    """dkim.key: a 2048-bit RSA key in PKCS#8 PEM, mode 0600, in the work folder."""
    from cryptography.hazmat.primitives import serialization  # a test dependency
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(work / "dkim.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as f:
        f.write(pem)


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
        signing = ('\n[relay.dkim]\ndomain = "example.test"\nselector = "bench"\n'
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
    """A private Postfix instance (config, queue and log in the work folder)."""

    def __init__(self, work: Path, port: int, connections: int, processes: int, tls: bool = False,
                 dkim: bool = False):
        self.work, self.log = work, work / "postfix.log"
        self.etc, self.spool = private_postfix(work, f"relayhost = [127.0.0.1]:{port}\n"
                                                     "myhostname = bench.example.test\n")

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
        pass  # its maildrop is read by `pickup` as soon as Postfix starts

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
        if (master := self.master()) is None:
            return []
        return [master] + [int(p) for p in os.listdir("/proc")
                           if p.isdigit() and proc_field(int(p), "PPid") == str(master)]

    def stop(self) -> None:
        if self.pids():
            subprocess.run([POSTFIX, "-c", str(self.etc), "stop"], timeout=60, capture_output=True)
        deadline = time.monotonic() + 20
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.pids():
            os.kill(pid, signal.SIGKILL)


class Sink:
    """A sink subprocess and its arrival count, read from its stdout by a thread.
    dump: smtp-sink also writes each message to a file there (`relay sink` always keeps them)."""

    def __init__(self, kind: str, work: Path, port: int, tls: bool = False, dump: Path | None = None):
        if kind == "relay":   # prints one "sink: from=..." line per stored message
            cmd = [str(RELAY), "sink", "--host", "127.0.0.1", "--port", str(port),
                   "--maildir", str(work / "sink")]
            if tls:   # STARTTLS offered and required
                cmd += ["--tls-cert", str(work / "cert.pem"), "--tls-key", str(work / "key.pem")]
        else:                 # -c: "sess=1 quit=0 mesg=42\r" after each "."; -u: needed as root
            cmd = [SMTP_SINK, "-c", *(["-u", "nobody"] if os.geteuid() == 0 else []),
                   *(["-d", f"{dump}/%H%M%S."] if dump else []), f"127.0.0.1:{port}", "1000"]
        self.kind, self.count, self.at, self.cond = kind, 0, 0.0, threading.Condition()
        self.first_at = 0.0   # the first arrival: rates from here leave out start-up
        with open(work / "sink.err", "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=work)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    stop(self.proc, grace=5)
                    raise BenchError(f"{cmd[0]} did not listen on 127.0.0.1:{port}") from None
                time.sleep(0.05)

    def _read(self) -> None:
        rest, count = b"", 0
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            if self.kind == "relay":
                *lines, rest = (rest + chunk).split(b"\n")
                count += sum(line.startswith(b"sink: from=") for line in lines)
            else:
                *records, rest = (rest + chunk).split(b"\r")
                count = max([count] + [int(m[1]) for r in records if (m := re.search(rb"mesg=(\d+)", r))])
            with self.cond:
                if count != self.count:
                    self.count, self.at = count, time.monotonic()
                    self.first_at = self.first_at or self.at
                    self.cond.notify_all()

    def wait_for(self, target: int, deadline: float, relay: RelayRun) -> bool:
        with self.cond:
            while self.count < target:
                if time.monotonic() >= deadline:
                    return False
                idle = not self.cond.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                if idle and (not relay.alive() or self.proc.poll() is not None):
                    return False   # nothing for a second: is everyone still running?
        return True


def run_case(mta: str, sink_kind: str, parent: Path, n: int, connections: int, processes: int,
             tls: bool = False, dkim: bool = False) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-relay-", dir=parent))
    label, relay, sink = case_label(mta, sink_kind, tls, dkim), None, None

    def why() -> str:
        return (f"relay running: {relay.alive()}, sink exit code {sink.proc.poll()}, sink stderr "
                f"{(work / 'sink.err').read_bytes()[-300:]!r}; log:\n"
                + (relay.log.read_text(errors="replace")[-2000:] if relay.log.exists() else "(none)"))
    try:
        port = free_port()
        if tls:
            make_certificate(work)
        if dkim:
            make_dkim_key(work)
        relay = (PostfixRun if mta == "postfix" else RelayRun)(work, port, connections, processes, tls,
                                                               dkim)
        began = time.monotonic()
        relay.fill(n)
        print(f"  [{label}] {n:,} messages put in its pickup in {time.monotonic() - began:.1f}s")
        sink = Sink(sink_kind, work, port, tls)
        relay.settle()
        start = time.monotonic()
        relay.start()
        if not sink.wait_for(n, start + GIVE_UP, relay):
            raise BenchError(f"the sink has {sink.count:,} of {n:,} messages after "
                             f"{time.monotonic() - start:.0f}s (give-up {GIVE_UP:.0f}s): {why()}")
        seconds = sink.at - start
        steady = (n - 1) / (sink.at - sink.first_at) if sink.at > sink.first_at else float("nan")
        time.sleep(0.5)  # let the relay finish its last moves and go idle
        latencies = []
        for i in range(LATENCY_SAMPLES):
            before, wrote = sink.count, time.monotonic()
            relay.drop(n + i)
            if not sink.wait_for(before + 1, wrote + 30, relay):
                raise BenchError(f"an idle message did not arrive within 30s: {why()}")
            latencies.append(sink.at - wrote)
            time.sleep(0.02)
        rss = sum(int((proc_field(pid, "VmHWM") or "0").split()[0]) for pid in relay.pids()) / 1024
        relay.stop()
        stop(sink.proc)
        stored = len(os.listdir(work / "sink" / "new")) if sink_kind == "relay" else sink.count
        if dkim and sink_kind == "relay":   # the figures count only if the mail was really signed
            unsigned = [f for f in os.listdir(work / "sink" / "new")   # under the sink's X-Envelope lines
                        if b"\nDKIM-Signature: v=1;" not in (work / "sink" / "new" / f).read_bytes()]
            if unsigned:
                raise BenchError(f"{len(unsigned):,} messages arrived without a DKIM signature")
        if stored != n + LATENCY_SAMPLES:
            print(f"  [{label}] WARNING: the sink holds {stored:,} messages, not {n + LATENCY_SAMPLES:,}")
        return {"case": label, "rate": n / seconds, "steady": steady, "seconds": seconds, "rss": rss,
                "median": statistics.median(latencies) * 1e3, "max": max(latencies) * 1e3}
    finally:
        if relay is not None:
            relay.stop()
        if sink is not None:
            stop(sink.proc, grace=5)
        shutil.rmtree(work, ignore_errors=True)


def case_label(mta: str, sink_kind: str, tls: bool = False, dkim: bool = False) -> str:
    return f"{mta} -> {sink_kind}" + (" (STARTTLS)" if tls else "") + (" (DKIM)" if dkim else "")


def filesystem_of(path: str) -> str:
    path, best = os.path.realpath(path), ("", "?", "?")
    with open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            device, mount, fstype = line.split()[:3]
            mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), mount)
            if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best[0]):
                best = (mount, fstype, device)
    return f"{best[1]} on {best[0]} ({best[2]})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="messages in the backlog (default 10,000)")
    parser.add_argument("--connections", type=int, default=4, help="[relay] connections (default 4)")
    parser.add_argument("--processes", type=int, default=0,
                        help="[relay] processes (default 0: one per CPU, under a supervisor)")
    parser.add_argument("--dir", help="parent of the work folder (default ./var; e.g. /dev/shm)")
    parser.add_argument("--sink", choices=("relay", "smtp-sink", "postfix", "all"), default="all",
                        help="postfix: Postfix relaying to smtp-sink; all: every case (default)")
    parser.add_argument("--starttls", action="store_true",
                        help="also relay -> relay sink over STARTTLS (verified), and its ratio to plaintext")
    parser.add_argument("--dkim", action="store_true",
                        help="also each relay case with DKIM signing on, and its ratio to unsigned")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    if not 1 <= args.n <= 1_000_000 or not 1 <= args.connections <= 1000 or not 0 <= args.processes <= 64:
        parser.error("-n must be 1..1,000,000, --connections 1..1000 and --processes 0..64")
    if not RELAY.exists():
        parser.error(f"no {RELAY}: install the project in this venv (pip install -e .)")
    parent = Path(os.path.abspath(args.dir or "var"))
    made_parent = not parent.exists()
    parent.mkdir(parents=True, exist_ok=True)
    cases = {"relay": [("relay", "relay", False, False)],
             "smtp-sink": [("relay", "smtp-sink", False, False)],
             "postfix": [("postfix", "smtp-sink", False, False)]}
    cases = sum(cases.values(), []) if args.sink == "all" else cases[args.sink]
    if args.starttls:
        cases.insert(cases.index(("relay", "relay", False, False)) + 1 if args.sink in ("relay", "all")
                     else 0, ("relay", "relay", True, False))
    if args.dkim:   # each plaintext relay case followed by the same case signed
        cases = [c for case in cases
                 for c in ([case, (*case[:3], True)] if case[0] == "relay" and not case[2] else [case])]
    print(f"work folder under {parent}: {filesystem_of(str(parent))}")
    print(f"N = {args.n:,} messages of ~{len(message(0).content):,} bytes, "
          f"connections = {args.connections}, processes = {args.processes or 'one per CPU'}, "
          f"CPUs = {os.cpu_count()}")
    results, failed = [], False
    try:
        for mta, sink_kind, tls, dkim in cases:
            label = case_label(mta, sink_kind, tls, dkim)
            if sink_kind == "smtp-sink" and not os.access(SMTP_SINK, os.X_OK):
                print(f"  [{label}] SKIPPED: {SMTP_SINK} is not installed "
                      "(apt-get install postfix, debconf answer 'No configuration')")
            elif mta == "postfix" and (os.geteuid() != 0 or not os.access(POSTFIX, os.X_OK)):
                print(f"  [{label}] SKIPPED: a private Postfix instance needs root and {POSTFIX}")
            else:
                try:
                    results.append(run_case(mta, sink_kind, parent, args.n, args.connections,
                                            args.processes, tls, dkim))
                except (BenchError, OSError, subprocess.SubprocessError) as e:
                    failed = True
                    print(f"  [{label}] FAILED: {e}")
    finally:
        if made_parent:
            with contextlib.suppress(OSError):
                parent.rmdir()
    print(f"\n{'case':<33} {'msgs/s':>7} {'drain/s':>8} {'seconds':>8} {'peak RSS MB':>12} "
          f"{'idle latency median/max ms':>27}")
    for r in results:
        latency = f"{r['median']:.1f} / {r['max']:.1f}"
        print(f"{r['case']:<33} {r['rate']:>7,.0f} {r['steady']:>8,.0f} {r['seconds']:>8.2f} "
              f"{r['rss']:>12.1f} {latency:>27}")
    print("msgs/s: from starting the process to the last arrival; drain/s: first to last arrival")
    ratio = starttls_ratio(results)
    if ratio is not None:
        print(f"STARTTLS / plaintext (relay -> relay sink): msgs/s {ratio['rate']:.2f}x, "
              f"drain/s {ratio['steady']:.2f}x")
    dkim_ratios = dkim_ratio(results)
    for sink_kind, r in dkim_ratios.items():
        print(f"DKIM / unsigned (relay -> {sink_kind}): msgs/s {r['rate']:.2f}x, drain/s {r['steady']:.2f}x")
    if args.json:
        print(json.dumps({"n": args.n, "connections": args.connections, "processes": args.processes,
                          "cases": results, "starttls_ratio": ratio,
                          "dkim_ratio": dkim_ratios or None}))
    sys.exit(1 if failed else 0)


def starttls_ratio(results: list[dict]) -> dict | None:
    """STARTTLS figures over plaintext ones for relay -> relay sink, when both ran."""
    by_case = {r["case"]: r for r in results}
    plain, tls = by_case.get(case_label("relay", "relay")), by_case.get(case_label("relay", "relay", True))
    if plain is None or tls is None:
        return None
    return {key: tls[key] / plain[key] for key in ("rate", "steady")}


def dkim_ratio(results: list[dict]) -> dict[str, dict]:
    """Signed figures over unsigned ones, per sink, for the relay cases where both ran."""
    by_case = {r["case"]: r for r in results}
    ratios = {}
    for sink_kind in ("relay", "smtp-sink"):
        plain = by_case.get(case_label("relay", sink_kind))
        signed = by_case.get(case_label("relay", sink_kind, dkim=True))
        if plain is not None and signed is not None:
            ratios[sink_kind] = {key: signed[key] / plain[key] for key in ("rate", "steady")}
    return ratios


if __name__ == "__main__":
    main()
