"""What the relay costs while its smart host is down.

Writes N messages to pickup, starts `relay run` pointing at a loopback port
where nothing listens, and samples the daemon's CPU time (/proc/PID/stat)
over a window. Prints CPU %, connect attempts (the "pausing" log lines) and
where the messages are. Run: .venv/bin/python bench/host_down_cpu.py [-n 1000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spooler.message import Address, Notification, build  # noqa: E402
from spooler.pickup import PickupWriter  # noqa: E402
from tests.ports import free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    Path("var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-down-", dir="var"))
    relay = None
    try:
        (work / "pickup").mkdir()
        (work / "config.toml").write_text(
            f'[relay]\nqueue_dir = "queue"\nlog_file = "relay.log"\n'
            f'[relay.smarthost]\nport = {free_port()}\ntimeout = "5s"\n')
        writer = PickupWriter(work / "pickup", durable=False)
        for n in range(args.n):
            writer.write(build(Notification(Address("noreply@example.test"),
                                            [Address(f"user{n}@example.test")],
                                            f"Notification {n}", "body\n" * 30)))
        relay = subprocess.Popen([str(Path(sys.executable).parent / "relay"), "--config",
                                  str(work / "config.toml"), "run"])
        time.sleep(2)  # start-up and the first failed attempts are not the steady state
        before, started = cpu_seconds(relay.pid), time.monotonic()
        time.sleep(args.seconds)
        used, elapsed = cpu_seconds(relay.pid) - before, time.monotonic() - started
        log = (work / "relay.log").read_text()
        counts = {d: len(list((work / d).glob("*.eml"))) for d in ("pickup", "queue/deferred")}
        print(f"smart host down, {args.n} messages waiting, {elapsed:.0f} s window")
        print(f"  relay CPU: {used:.2f} s = {100 * used / elapsed:.2f}% of one core")
        print(f"  connect attempts logged: {log.count('pausing delivery')}")
        print(f"  in pickup: {counts['pickup']}, deferred: {counts['queue/deferred']}")
    finally:
        if relay is not None:
            relay.send_signal(signal.SIGTERM)
            try:
                relay.wait(timeout=30)
            except subprocess.TimeoutExpired:
                relay.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
