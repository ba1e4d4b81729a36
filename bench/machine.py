"""What the benchmarks say of the machine they ran on: a folder's filesystem, the CPU time used.

filesystem_of() reads /proc/mounts; busy_seconds() reads the first line of /proc/stat
(every CPU's user + nice + system + irq + softirq, idle and iowait left out), so the
busy time between two readings is what the whole machine spent, whoever spent it: on
this shared machine, compare figures from one run.
"""

from __future__ import annotations

import os
import re

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def filesystem_of(path: str) -> str:
    path, best = os.path.realpath(path), ("", "?", "?")
    with open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            device, mount, fstype = line.split()[:3]
            mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), mount)
            if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best[0]):
                best = (mount, fstype, device)
    return f"{best[1]} on {best[0]} ({best[2]})"


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy since boot, all CPUs added up."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()   # cpu user nice system idle iowait irq softirq ...
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
    return (user + nice + system + irq + softirq) / CLOCK_TICKS
