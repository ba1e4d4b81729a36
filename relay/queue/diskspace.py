"""Free space on the filesystem under pickup and the queue, and whether a person should act.

A full filesystem cuts a `cp` into pickup short (the relay cannot always tell a
cut copy from a whole one) and keeps the relay from recording attempts. Space is
low under LOW_FRACTION of the filesystem or under LOW_BYTES, whichever is larger
(so 100 MB up to a 2 TB filesystem, 5% above), or under LOW_FRACTION of its
inodes where it counts them. Free means free to users other than root (what the
site and the relay may use). Reads statvfs() only; used by `relay check` and
`relay status`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from settings.units import format_size

LOW_FRACTION = 0.05
LOW_BYTES = 100_000_000   # 100 MB: a few thousand messages, a newsletter's worth
ADVICE = ("free space there (old logs; `relay delete --all --folder badmail`; sent/ when archive = "
          "true) or give pickup and the queue a larger filesystem: when it is full, a `cp` into "
          "pickup is cut short and the relay cannot record attempts")


@dataclass(frozen=True)
class DiskSpace:
    path: str
    free_bytes: int
    total_bytes: int
    free_inodes: int | None     # None where the filesystem does not count them (btrfs)
    total_inodes: int | None

    @property
    def low_below_bytes(self) -> int:
        return max(int(self.total_bytes * LOW_FRACTION), LOW_BYTES)

    @property
    def low(self) -> bool:
        return bool(self.warning())

    def describe(self) -> str:
        """'40.0 KB free of 524.3 KB (8%) on /srv/pickup'."""
        share = self.free_bytes / self.total_bytes if self.total_bytes else 0.0
        return f"{format_size(self.free_bytes)} free of {format_size(self.total_bytes)} ({share:.0%}) " \
               f"on {self.path}"

    def warning(self) -> str:
        """What is low, against which threshold ('' when nothing is)."""
        low = []
        if self.free_bytes < self.low_below_bytes:
            low.append(f"under {format_size(self.low_below_bytes)} (the larger of "
                       f"{LOW_FRACTION:.0%} and {format_size(LOW_BYTES)})")
        if self.total_inodes and self.free_inodes < self.total_inodes * LOW_FRACTION:
            low.append(f"{self.free_inodes:,} of {self.total_inodes:,} inodes free (under "
                       f"{LOW_FRACTION:.0%})")
        return f"{self.describe()}: {'; '.join(low)}" if low else ""

    def to_json(self) -> dict:
        return {**asdict(self), "low_below_bytes": self.low_below_bytes, "low": self.low}


def disk_space(path: str | os.PathLike) -> DiskSpace | None:
    """The space on path's filesystem; None when path does not exist (yet)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return DiskSpace(str(Path(path)), st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize,
                     st.f_favail if st.f_files else None, st.f_files or None)
