"""How fast does `relay run` drain a pickup backlog, what does each message cost, and Postfix beside it?

N ~2 KB notifications (spooler.message.build, PickupWriter(durable=False)) are put in pickup
*before* `relay run` starts (a subprocess, fresh config.toml, log_level "warning"). Per case:
  msgs/s, seconds  from starting the relay process until the sink has all N (includes
                   interpreter start-up and the start-up scan of pickup)
  drain/s          N-1 over the time from the first to the last arrival (start-up left out)
  CPU µs/msg       the whole machine's busy time (/proc/stat: user+nice+system+irq+softirq,
                   every CPU; the sink's included) from the start to the last arrival, over N
  peak RSS MB      VmHWM summed over the relay process and its children (by default `relay
                   run` is a supervisor with one relay per CPU), read just before stopping it
  idle latency     after the drain, 50 messages written one at a time, each waited for,
                   20 ms apart (kept connections are reused): median / max ms, write -> sink
Cases: relay -> `relay sink` (aiosmtpd + Maildir, ~1 ms of CPU a message: above ~1,000/s it
measures the sink); with --starttls also relay -> `relay sink --tls-cert` over STARTTLS (a CA
and certificate made with trustme in the work folder, [relay.smarthost] ca_file pointing at
it, so the certificate is verified) and the STARTTLS/plaintext ratio of msgs/s;
relay -> /usr/sbin/smtp-sink -c (Postfix's C sink; skipped if missing);
postfix -> smtp-sink, the peer anchor: a private Postfix instance (config, queue and log in the
work folder, no listener) whose maildrop is filled by `sendmail -C` while it is stopped, then
`postfix start`; its latency includes a `sendmail` call and its RSS is the sum of VmHWM over
master and its children (and its milter). Arrivals are counted from the sinks' stdout by a
thread (no polling).
--dkim: every case runs unsigned, then signed with one 2048-bit RSA key made in the work
folder: the relay by [relay.dkim] for the messages' From domain, Postfix through a private
OpenDKIM milter on a unix socket (bench/opendkim.py; installed with apt-get when missing and
run as root). A signed case counts only if 50 of its messages, spread over the run, carry a
DKIM-Signature that dkimpy verifies against the key's record (smtp-sink then also writes each
message to a file, on /dev/shm whatever --dir is). At the end, for the cases into smtp-sink:
relay signed / Postfix + OpenDKIM, relay signed / unsigned, relay unsigned / Postfix (msgs/s).

Run:  .venv/bin/python bench/relay_throughput.py [-n 10000] [--connections 4] [--processes 0]
          [--dir /dev/shm [--dir var]] [--sink relay|smtp-sink|postfix|all] [--starttls] [--dkim]
          [--json]
      (the postfix cases need root; each --dir runs every case, the tables side by side;
      --json: the figures as one JSON line at the end, whose last keys are, for the first
      --dir: signed_vs_postfix_dkim, signed_vs_unsigned, unsigned_vs_postfix, cpu_us_per_msg
      {case: µs} and peak_rss_mb (relay -> smtp-sink, unsigned))
Each case works in a fresh DIR/bench-relay-XXXX (default DIR ./var), removed at the end. The
root fs here is ext4 without a journal (file creation slows after thousands of files): compare
with --dir /dev/shm, and compare ratios within one run (see MEASUREMENTS.md in the shared project notes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: tests.ports

from machine import busy_seconds, filesystem_of  # noqa: E402 - bench/ is on sys.path
from mta_runs import (  # noqa: E402
    POSTFIX,
    RELAY,
    SMTP_SINK,
    BenchError,
    PostfixRun,
    RelayRun,
    make_certificate,
    message,
    proc_field,
    stop,
)
from opendkim import DkimBenchError, check_signed, make_dkim_key, require_opendkim  # noqa: E402
from sinks import Sink  # noqa: E402
from throughput_report import case_label, json_summary, print_ratios, print_side_by_side, print_table  # noqa: E402,E501

from tests.ports import free_port  # noqa: E402

GIVE_UP = 600.0          # seconds a drain may take before the benchmark gives up
LATENCY_SAMPLES = 50
DUMP_PARENT = "/dev/shm"   # where smtp-sink writes signed cases' messages: tmpfs, cheap on any --dir


def run_case(mta: str, sink_kind: str, parent: Path, n: int, connections: int, processes: int,
             tls: bool = False, dkim: bool = False) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-relay-", dir=parent))
    label, relay, sink, dump = case_label(mta, sink_kind, tls, dkim), None, None, None

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
            if sink_kind == "smtp-sink":
                dump = Path(tempfile.mkdtemp(prefix="bench-dump-", dir=DUMP_PARENT))
                dump.chmod(0o777)   # smtp-sink runs as nobody
        relay = (PostfixRun if mta == "postfix" else RelayRun)(work, port, connections, processes, tls,
                                                               dkim)
        began = time.monotonic()
        relay.fill(n)
        print(f"  [{label}] {n:,} messages put in its pickup in {time.monotonic() - began:.1f}s")
        sink = Sink(sink_kind, work, port, tls, dump)
        relay.settle()
        sink.target = n
        busy, start = busy_seconds(), time.monotonic()
        relay.start()
        if not sink.wait_for(n, start + GIVE_UP, relay):
            raise BenchError(f"the sink has {sink.count:,} of {n:,} messages after "
                             f"{time.monotonic() - start:.0f}s (give-up {GIVE_UP:.0f}s): {why()}")
        seconds = sink.at - start
        steady = (n - 1) / (sink.at - sink.first_at) if sink.at > sink.first_at else float("nan")
        cpu_us = (sink.busy_at_target - busy) / n * 1e6
        time.sleep(0.5)  # let the relay finish its last moves and go idle
        latencies = idle_latencies(relay, sink, n, why)
        rss = sum(int((proc_field(pid, "VmHWM") or "0").split()[0]) for pid in relay.pids()) / 1024
        relay.stop()
        stop_sink(sink)
        stored = len(os.listdir(work / "sink" / "new")) if sink_kind == "relay" else sink.count
        if dkim:   # the figures count only if the mail was really signed
            checked = check_signed(work / "sink" / "new" if sink_kind == "relay" else dump,
                                   work / "dkim.key", label)
            print(f"  [{label}] DKIM signature verified by dkimpy on {checked} messages spread "
                  "over the run")
        if stored != n + LATENCY_SAMPLES:
            print(f"  [{label}] WARNING: the sink holds {stored:,} messages, not {n + LATENCY_SAMPLES:,}")
        return {"case": label, "dir": str(parent), "rate": n / seconds, "steady": steady,
                "seconds": seconds, "cpu_us": cpu_us, "rss": rss,
                "median": statistics.median(latencies) * 1e3, "max": max(latencies) * 1e3}
    finally:
        if relay is not None:
            relay.stop()
        if sink is not None:
            stop_sink(sink)
        shutil.rmtree(work, ignore_errors=True)
        if dump is not None:
            shutil.rmtree(dump, ignore_errors=True)


def idle_latencies(relay: RelayRun, sink: Sink, n: int, why) -> list[float]:
    """Seconds from writing each of LATENCY_SAMPLES messages, one at a time, to its arrival."""
    latencies = []
    for i in range(LATENCY_SAMPLES):
        before, wrote = sink.count, time.monotonic()
        relay.drop(n + i)
        if not sink.wait_for(before + 1, wrote + 30, relay):
            raise BenchError(f"an idle message did not arrive within 30s: {why()}")
        latencies.append(sink.at - wrote)
        time.sleep(0.02)
    return latencies


def stop_sink(sink: Sink) -> None:
    stop(sink.proc, grace=5)


def cases_for(sink: str, starttls: bool, dkim: bool) -> list[tuple[str, str, bool, bool]]:
    """(mta, sink kind, tls, dkim) in the order they run; with dkim, each case then signed."""
    cases = {"relay": [("relay", "relay", False, False)],
             "smtp-sink": [("relay", "smtp-sink", False, False)],
             "postfix": [("postfix", "smtp-sink", False, False)]}
    cases = sum(cases.values(), []) if sink == "all" else cases[sink]
    if starttls:
        cases.insert(1 if sink in ("relay", "all") else 0, ("relay", "relay", True, False))
    if dkim:
        cases = [c for case in cases for c in (case, (*case[:3], True))]
    return cases


def skip_reason(mta: str, sink_kind: str, dkim: bool) -> str | None:
    if sink_kind == "smtp-sink" and not os.access(SMTP_SINK, os.X_OK):
        return f"{SMTP_SINK} is not installed (apt-get install postfix, debconf answer 'No configuration')"
    if mta == "postfix" and (os.geteuid() != 0 or not os.access(POSTFIX, os.X_OK)):
        return f"a private Postfix instance needs root and {POSTFIX}"
    if mta == "postfix" and dkim:
        return require_opendkim()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="messages in the backlog (default 10,000)")
    parser.add_argument("--connections", type=int, default=4, help="[relay] connections (default 4)")
    parser.add_argument("--processes", type=int, default=0,
                        help="[relay] processes (default 0: one per CPU, under a supervisor)")
    parser.add_argument("--dir", action="append",
                        help="parent of the work folders (default ./var; e.g. /dev/shm); again for "
                             "another filesystem, printed side by side")
    parser.add_argument("--sink", choices=("relay", "smtp-sink", "postfix", "all"), default="all",
                        help="postfix: Postfix relaying to smtp-sink; all: every case (default)")
    parser.add_argument("--starttls", action="store_true",
                        help="also relay -> relay sink over STARTTLS (verified), and its ratio to plaintext")
    parser.add_argument("--dkim", action="store_true",
                        help="every case unsigned, then signed (Postfix through OpenDKIM), and the ratios")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    if not 1 <= args.n <= 1_000_000 or not 1 <= args.connections <= 1000 or not 0 <= args.processes <= 64:
        parser.error("-n must be 1..1,000,000, --connections 1..1000 and --processes 0..64")
    if not RELAY.exists():
        parser.error(f"no {RELAY}: install the project in this venv (pip install -e .)")
    parents = [Path(os.path.abspath(d)) for d in (args.dir or ["var"])]
    cases = cases_for(args.sink, args.starttls, args.dkim)
    print(f"N = {args.n:,} messages of ~{len(message(0).content):,} bytes, "
          f"connections = {args.connections}, processes = {args.processes or 'one per CPU'}, "
          f"CPUs = {os.cpu_count()}")
    results, failed = {}, False
    for parent in parents:
        made_parent = not parent.exists()
        parent.mkdir(parents=True, exist_ok=True)
        print(f"work folder under {parent}: {filesystem_of(str(parent))}")
        results[parent] = []
        try:
            for mta, sink_kind, tls, dkim in cases:
                label = case_label(mta, sink_kind, tls, dkim)
                if (why := skip_reason(mta, sink_kind, dkim)) is not None:
                    print(f"  [{label}] SKIPPED: {why}")
                    continue
                try:
                    results[parent].append(run_case(mta, sink_kind, parent, args.n, args.connections,
                                                    args.processes, tls, dkim))
                except (BenchError, DkimBenchError, OSError, subprocess.SubprocessError) as e:
                    failed = True
                    print(f"  [{label}] FAILED: {e}")
        finally:
            if made_parent:
                with contextlib.suppress(OSError):
                    parent.rmdir()
    for parent in parents:
        print(f"\n{filesystem_of(str(parent))}")
        print_table(results[parent])
        print_ratios(results[parent])
    if len(parents) > 1:
        print_side_by_side(results, [filesystem_of(str(p)) for p in parents])
    if args.json:
        print(json.dumps({"n": args.n, "connections": args.connections, "processes": args.processes,
                          **json_summary(results, parents)}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
