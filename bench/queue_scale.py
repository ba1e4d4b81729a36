"""A big queue: the relay's memory with N messages waiting, and admin commands on N queued.

1. Writes N messages to pickup, starts `relay run` against a loopback port where nothing
   listens (so nothing drains), and reads its peak RSS (VmHWM) once it has seen them all.
2. Places N messages in deferred/ (as the daemon leaves them: next attempt in the future,
   an attempt history in meta/) and times `relay status --json` and `relay list --json`.
Run: .venv/bin/python bench/queue_scale.py [-n 100000] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay.queue.folders import Queue  # noqa: E402
from relay.queue.history import Attempt, History
from spooler.message import Address, Notification, build  # noqa: E402
from spooler.names import new_queue_id  # noqa: E402
from spooler.pickup import PickupWriter  # noqa: E402
from tests.ports import free_port  # noqa: E402

RELAY = str(Path(sys.executable).parent / "relay")


def filesystem(path: Path) -> str:
    best = ("?", "")
    for line in Path("/proc/mounts").read_text().splitlines():
        _dev, mount, fstype, *_ = line.split()
        if str(path).startswith(mount) and len(mount) >= len(best[1]):
            best = (fstype, mount)
    return f"{best[0]} on {best[1]}"


def message(n: int):
    return build(Notification(Address("noreply@example.test"), [Address(f"user{n}@example.test")],
                              f"Notification {n}", "An answer arrived.\n" * 40))


def status_kb(pid: int, field: str) -> int:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line.split()[1] for line in lines if line.startswith(field + ":")))


def peak_rss_with_waiting_mail(work: Path, n: int) -> tuple[list[float], float]:
    """Peak RSS (MB) of each relay process (supervisor first), and their summed current RSS."""
    writer = PickupWriter(work / "pickup", durable=False)
    for i in range(n):
        writer.write(message(i))
    relay = subprocess.Popen([RELAY, "--config", str(work / "config.toml"), "run"],
                             stderr=subprocess.DEVNULL)
    try:
        time.sleep(15)  # start-up scan, the settle time, a first failed attempt, the pause
        children = Path(f"/proc/{relay.pid}/task/{relay.pid}/children").read_text().split()
        pids = [relay.pid] + [int(p) for p in children]
        peaks = [status_kb(pid, "VmHWM") / 1024 for pid in pids]
        now = sum(status_kb(pid, "VmRSS") for pid in pids) / 1024
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=60)
    return peaks, now


def admin_timings(work: Path, n: int) -> dict[str, float]:
    queue = Queue(work / "queue", work / "pickup")
    queue.create()
    later = time.time() + 3600
    for i in range(n):
        m = message(i)
        queue_id = new_queue_id()
        path = queue.dirs["deferred"] / f"{queue_id}.eml"
        path.write_bytes(b"X-Sender: <%s>\r\nX-Receiver: <%s>\r\n" % (
            m.sender.encode(), m.recipients[0].encode()) + m.content)
        os.utime(path, (later, later))
        queue.save_history(queue_id, History(time.time(), attempts=[
            Attempt(time.time(), 451, "451 4.7.1 try later", list(m.recipients))]))
    out = {}
    for name, command in (("status --json", ["status", "--json", "--no-smarthost"]),
                          ("list --json", ["list", "--json"]),
                          ("list --recipient user7 (filtered)", ["list", "--recipient", "user7@"])):
        start = time.perf_counter()
        result = subprocess.run([RELAY, "--config", str(work / "config.toml"), *command],
                                capture_output=True, timeout=600)
        out[name] = time.perf_counter() - start
        if command[1:2] == ["--json"] and command[0] == "list":
            assert len(json.loads(result.stdout)["messages"]) == n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--dir", default="var")
    args = parser.parse_args()
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=args.dir)).resolve()
    try:
        (work / "pickup").mkdir()
        (work / "config.toml").write_text(
            f'[relay]\nqueue_dir = "queue"\nlog_level = "warning"\n'
            f'[relay.smarthost]\nport = {free_port()}\ntimeout = "2s"\n')
        print(f"N = {args.n:,}, folder on {filesystem(work)}")
        peaks, rss = peak_rss_with_waiting_mail(work, args.n)
        each = " + ".join(f"{p:.0f}" for p in peaks)
        print(f"relay run with {args.n:,} waiting in pickup (smart host down): peak RSS "
              f"{each} = {sum(peaks):.0f} MB over {len(peaks)} processes, now {rss:.0f} MB")
        shutil.rmtree(work / "pickup")
        (work / "pickup").mkdir()
        shutil.rmtree(work / "queue")
        for name, seconds in admin_timings(work, args.n).items():
            print(f"relay {name:36} {seconds:6.2f} s for {args.n:,} deferred messages")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
