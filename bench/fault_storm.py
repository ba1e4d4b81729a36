"""Does a drain under 20 `kill -9`s lose anything, and how many duplicates do the kills cost?

N ~2 KB notifications (relay_throughput's, PickupWriter(durable=False)) are put in pickup
*before* `relay run` starts with the default settings (a supervisor with one relay process
per CPU, 4 connections between them; log_level "warning"). From the first arrival on, K
SIGKILLs go out at random moments (0.05-0.4 s apart, --seed) to a random relay process: a
child, which the supervisor restarts after 2 s, or one time in four the supervisor itself,
whose children the kernel sends SIGTERM (they finish their sends) and which the benchmark
starts again at once. The drain is over when pickup, active/ and deferred/ hold no message.
Every Message-ID that reached the sink is then counted:
  lost         messages put in pickup that never arrived (must be 0)
  duplicates   arrivals beyond the first of a Message-ID (sends whose 250 came before a kill
               and whose file was not yet removed); also per kill
  seconds      from starting the relay to the last arrival, kills and restarts included
Sinks: `relay sink` (aiosmtpd, a Maildir read at the end) or Postfix's /usr/sbin/smtp-sink
with -d (a file per message; skipped if missing), both on 127.0.0.1.

Run:  .venv/bin/python bench/fault_storm.py [-n 5000] [--kills 20] [--seed 1]
          [--sink relay|smtp-sink] [--dir /dev/shm] [--json]
      (--json: the figures as one JSON line at the end; exit status 1 if anything was lost)
Works in a fresh DIR/bench-storm-XXXX (default DIR ./var), removed at the end; every process
it starts is stopped, those a killed supervisor left included.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: tests.ports

from machine import filesystem_of  # noqa: E402 - bench/ is on sys.path
from mta_runs import RELAY, SMTP_SINK, BenchError, RelayRun, message, stop  # noqa: E402
from sinks import Sink  # noqa: E402

from tests.ports import free_port  # noqa: E402

GIVE_UP = 300.0            # seconds the drain may take before the benchmark gives up
KILL_GAP = (0.05, 0.4)     # seconds between two kills, drawn uniformly
SUPERVISOR_SHARE = 0.25    # the share of kills aimed at the supervisor
POLL = 0.05


class StormRun(RelayRun):
    """`relay run` that can be started again after its supervisor is killed; it remembers
    every Message-ID it put in pickup and every relay process it saw."""

    def __init__(self, work: Path, port: int):
        super().__init__(work, port, connections=4, processes=0)   # the defaults
        self.port = port
        self.ids: set[str] = set()
        self.supervisors: list[subprocess.Popen] = []
        self.seen: set[int] = set()   # every child pid, to stop any a killed supervisor left

    def drop(self, i: int) -> None:
        outgoing = message(i)
        self.ids.add(outgoing.message_id)
        self.writer.write(outgoing)

    def start(self) -> None:
        with open(self.log, "ab") as log:   # appended: one log across restarts
            self.proc = subprocess.Popen([str(RELAY), "--config", str(self.work / "config.toml"), "run"],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.supervisors.append(self.proc)

    def children(self) -> list[int]:
        try:
            pids = self.pids()[1:]
        except (OSError, ValueError):   # the supervisor went away while we looked
            return []
        self.seen.update(pids)
        return pids

    def queued(self) -> int:
        """Messages in pickup, active/ and deferred/: 0 once every one has been delivered."""
        count, queue = 0, self.work / "queue"
        for folder in (self.work / "pickup", queue / "active", queue / "deferred"):
            with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
                count += sum(1 for e in entries if e.name.endswith(".eml") and not e.name.startswith("."))
        return count

    def stop_all(self) -> None:
        """Stop the running supervisor, reap the killed ones, and stop any child left behind."""
        self.stop()
        for proc in self.supervisors:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        config = str(self.work / "config.toml").encode()
        left = [pid for pid in self.seen if config in _cmdline(pid)]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(config in _cmdline(pid) for pid in left):
            time.sleep(0.1)
        for pid in left:
            if config in _cmdline(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    """A live process's command line (b"" once it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return b""
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except (OSError, IndexError):
        return b""


def received_ids(sink_kind: str, work: Path) -> list[str]:
    """The Message-ID of every message the sink stored, one entry per arrival."""
    folder = work / "sink" / "new" if sink_kind == "relay" else work / "dump"
    ids = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        with open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    break   # the end of the header section
                if line.lower().startswith(b"message-id:"):
                    ids.append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
                    break
    return ids


def storm(sink_kind: str, parent: Path, n: int, kills: int, seed: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-storm-", dir=parent))
    rng = random.Random(seed)
    relay, sink = None, None
    try:
        dump = None
        if sink_kind == "smtp-sink":
            dump = work / "dump"
            dump.mkdir()
            if os.geteuid() == 0:   # smtp-sink runs as nobody and writes its files there
                work.chmod(0o711)
                dump.chmod(0o777)
        relay = StormRun(work, free_port())
        began = time.monotonic()
        relay.fill(n)
        print(f"  {n:,} messages put in pickup in {time.monotonic() - began:.1f}s")
        sink = Sink(sink_kind, work, relay.port, dump=dump)
        relay.settle()
        start = time.monotonic()
        relay.start()
        deadline = start + GIVE_UP
        while sink.count == 0:   # the kills fall in the drain, not in the start-up
            if time.monotonic() > deadline or not relay.alive():
                raise BenchError(f"nothing arrived; log: {relay.log.read_text(errors='replace')[-2000:]}")
            time.sleep(POLL)
        sent, to_supervisor, next_kill = 0, 0, time.monotonic() + rng.uniform(*KILL_GAP)
        empty_looks = 0   # a message between two folders is missed by one look, not by two
        while empty_looks < 2 and time.monotonic() < deadline:
            empty_looks = empty_looks + 1 if not relay.queued() else 0
            if not relay.alive():
                raise BenchError(f"relay run exited by itself (code {relay.proc.returncode}); log: "
                                 f"{relay.log.read_text(errors='replace')[-2000:]}")
            now = time.monotonic()
            children = relay.children()
            if sent < kills and now >= next_kill and relay.alive():
                if not children or rng.random() < SUPERVISOR_SHARE:
                    relay.proc.kill()            # its children get SIGTERM from the kernel
                    relay.proc.wait(timeout=10)
                    relay.start()
                    to_supervisor += 1
                else:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(rng.choice(children), signal.SIGKILL)
                sent += 1
                next_kill = now + rng.uniform(*KILL_GAP)
            time.sleep(POLL)
        drained = empty_looks >= 2
        time.sleep(0.5)   # the last arrivals, counted by the sink's reader
        seconds = sink.at - start
        relay.stop_all()
        stop(sink.proc)
        arrivals = received_ids(sink_kind, work)
        unique = set(arrivals)
        lost = len(relay.ids - unique)
        if not drained:
            print(f"  GAVE UP after {GIVE_UP:.0f}s with {relay.queued():,} messages still queued")
        if sent < kills:
            print(f"  the drain ended after {sent} of {kills} kills")
        return {"messages": n, "kills": sent, "to_supervisor": to_supervisor, "lost": lost,
                "duplicates": len(arrivals) - len(unique), "seconds": seconds, "drained": drained,
                "strangers": len(unique - relay.ids)}
    finally:
        if relay is not None:
            relay.stop_all()
        if sink is not None:
            stop(sink.proc, grace=5)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="messages in the backlog (default 5,000)")
    parser.add_argument("--kills", type=int, default=20, help="kill -9s during the drain (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments and victims")
    parser.add_argument("--sink", choices=("relay", "smtp-sink"), default="relay",
                        help="relay: `relay sink` (aiosmtpd); smtp-sink: Postfix's (default relay)")
    parser.add_argument("--dir", help="parent of the work folder (default ./var; e.g. /dev/shm)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    if not 1 <= args.n <= 1_000_000 or not 0 <= args.kills <= 1000:
        parser.error("-n must be 1..1,000,000 and --kills 0..1000")
    if not RELAY.exists():
        parser.error(f"no {RELAY}: install the project in this venv (pip install -e .)")
    if args.sink == "smtp-sink" and not os.access(SMTP_SINK, os.X_OK):
        print(f"SKIPPED: {SMTP_SINK} is not installed (apt-get install postfix, debconf answer "
              "'No configuration')")
        return
    parent = Path(os.path.abspath(args.dir or "var"))
    made_parent = not parent.exists()
    parent.mkdir(parents=True, exist_ok=True)
    print(f"work folder under {parent}: {filesystem_of(str(parent))}")
    print(f"N = {args.n:,} messages, {args.kills} kill -9s, sink = {args.sink}, default relay "
          f"settings (4 connections, one process per CPU), CPUs = {os.cpu_count()}")
    try:
        r = storm(args.sink, parent, args.n, args.kills, args.seed)
    except (BenchError, OSError, subprocess.SubprocessError) as e:
        print(f"FAILED: {e}")
        sys.exit(1)
    finally:
        if made_parent:
            with contextlib.suppress(OSError):
                parent.rmdir()
    per_kill = r["duplicates"] / r["kills"] if r["kills"] else 0.0
    print(f"\n{'messages':>9} {'kills':>6} {'lost':>5} {'duplicates':>11} {'dup/kill':>9} {'seconds':>8}")
    print(f"{r['messages']:>9,} {r['kills']:>6} {r['lost']:>5} {r['duplicates']:>11} {per_kill:>9.2f} "
          f"{r['seconds']:>8.1f}")
    print(f"kills: {r['kills'] - r['to_supervisor']} to relay processes, {r['to_supervisor']} to the "
          "supervisor (started again each time)")
    if r["strangers"]:
        print(f"WARNING: {r['strangers']} Message-IDs arrived that were never put in pickup")
    if args.json:
        print(json.dumps({"messages": r["messages"], "kills": r["kills"], "lost": r["lost"],
                          "duplicates": r["duplicates"], "seconds": round(r["seconds"], 2)}))
    sys.exit(1 if r["lost"] or not r["drained"] else 0)


if __name__ == "__main__":
    main()
