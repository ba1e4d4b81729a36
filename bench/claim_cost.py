"""What a claim costs when the site and the relay are one user (hard link) or two (a synced copy).

N ~2 KB notifications are written to pickup (PickupWriter, durable=False); then each is
claimed into active/ and removed as delivered, one after another, in this process:
  own files      the relay's user wrote them: link() + unlink() + fchmod(0600)
  another user's the files belong to `nobody` (the site as www-data): copy into a private
                 file, fdatasync, rename, unlink the original (needs root to chown; else skipped)
Prints claims/s per case and the ratio, measured in one run. With --json, ends with one
JSON line: {"n", "filesystem", "own_claims_per_s", "copy_claims_per_s", "copy_vs_own"}.

Run:  .venv/bin/python bench/claim_cost.py [-n 5000] [--dir /dev/shm] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from relay.queue.claims import claim_from_pickup
from relay.queue.folders import Queue
from relay.queue.moves import delivered
from spooler.message import Address, Notification, build
from spooler.pickup import PickupWriter

NOBODY = 65534


def claims_per_second(work: Path, n: int, foreign: bool) -> float:
    queue = Queue(work / "queue", work / "pickup")
    queue.create()
    writer = PickupWriter(work / "pickup", durable=False)
    names = []
    for i in range(n):
        path = writer.write(build(Notification(
            sender=Address("noreply@example.test", "Q&A"), to=[Address(f"user{i}@example.test")],
            subject="New answer to your question", text="An answer arrived.\n" * 60)))
        if foreign:
            os.chown(path, NOBODY, NOBODY)
        names.append(path.name)
    start = time.perf_counter()
    for name in names:
        claimed = claim_from_pickup(queue, name)
        delivered(queue, claimed)
    return n / (time.perf_counter() - start)


def filesystem_of(path: Path) -> str:
    done = subprocess.run(["df", "--output=fstype", str(path)], capture_output=True, text=True,
                          check=False)
    return done.stdout.split()[-1] if done.returncode == 0 else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--dir", default="var")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-claim-", dir=args.dir))
    try:
        fs = filesystem_of(work)
        claims_per_second(work / "warm", min(args.n, 500), foreign=False)  # first files cost more
        own = claims_per_second(work / "own", args.n, foreign=False)
        copy = claims_per_second(work / "copy", args.n, foreign=True) if os.geteuid() == 0 else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"claim cost, N={args.n}, filesystem {fs}")
    print(f"  own files (link):          {own:8,.0f} claims/s")
    if copy is None:
        print("  another user's (copy):     skipped: needs root to give files another owner")
    else:
        print(f"  another user's (copy+sync):{copy:8,.0f} claims/s  ({copy / own:.2f}x of own)")
    if args.json:
        print(json.dumps({"n": args.n, "filesystem": fs, "own_claims_per_s": round(own),
                          "copy_claims_per_s": round(copy) if copy else None,
                          "copy_vs_own": round(copy / own, 3) if copy else None}))


if __name__ == "__main__":
    main()
