"""What an admin sees of the queue: the status report behind `relay status` and the monitors,
and the same status as the site's dashboard reads it (dashboard_snapshot()).

status_report() gathers the folders' totals, each smart host's answer and what the
running relays last saw of it (cooling down and why: relay.smtp.smarthosts), the running
relays and the pickup filesystem's space, and, with [inbound] domains set, the drop folder
and the site's badmail in it; and decides what needs a human (the
problem rules: a missing folder, a host that does not answer or refuses, or that
the relays skip for a cool-down when it was not probed, badmail,
an old deferral, stale pid files, a nearly full disk, a drop file the site has not taken
within warn_age, drop files the site could not handle). No click and no printing
here: the `relay` commands (relay/cli/queue.py) only parse and format.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from channel.status import SHOWN_FOLDERS, DeliveryActivity, FolderTotals, QueueStatus, Snapshot
from relay.admin.listing import STATUS_FOLDERS, folder_totals, totals_of
from relay.admin.shown_rows import ShownRows
from relay.inbound.store import BADMAIL_FOLDER
from relay.queue.activity import combined
from relay.queue.diskspace import DiskSpace, disk_space
from relay.queue.folders import BADMAIL, DEFERRED, Queue
from relay.queue.pids import RelayProcess, running_relays
from relay.smtp.smarthosts import HostState, host_states
from settings import Config
from settings.units import format_duration

STATUS_PROBE_TIMEOUT = 5.0   # a status check waits at most this long for the smart host
WARN_AGE = 3600.0            # a deferred message older than this needs a human (`--warn-age`)
ROWS_PER_FOLDER = 500       # newest first; the counts are of every message
DROP, DROP_BADMAIL = "drop", f"drop/{BADMAIL_FOLDER}"   # the inbound folders, as status names them


@dataclass
class SmartHostState:
    host: str
    port: int
    reachable: bool | None      # None: not checked
    detail: str
    unreachable: bool = False   # False with reachable False: it answered, but refused us
    seen: HostState | None = None   # what the running relays last saw of it

    @property
    def label(self) -> str:
        return self.seen.label if self.seen is not None else f"{self.host}:{self.port}"

    @property
    def state(self) -> str:
        """reachable / unreachable / not usable (the probe), else cooling down / up / not checked."""
        if self.reachable is not None:
            return "reachable" if self.reachable else "unreachable" if self.unreachable else "not usable"
        if self.seen is not None and self.seen.cooling_until is not None:
            return "cooling down"
        return "up" if self.seen is not None and self.seen.last_answered is not None else "not checked"

    def to_json(self) -> dict:
        return {"host": self.host, "port": self.port, "reachable": self.reachable,
                "detail": self.detail, "state": self.state,
                **(self.seen.to_json() if self.seen is not None else {})}


@dataclass
class StatusReport:
    config: str
    folders: dict[str, FolderTotals]
    smarthosts: list[SmartHostState]   # in the order they are tried
    relays: list[RelayProcess]
    disk: DiskSpace | None
    problems: list[str] = field(default_factory=list)
    inbound: dict[str, FolderTotals] | None = None   # DROP, DROP_BADMAIL; None: [inbound] unused

    @property
    def smarthost(self) -> SmartHostState:
        """The first (with [relay.smarthost], the only) smart host."""
        return self.smarthosts[0]

    def to_json(self) -> dict:
        first = self.smarthost
        return {
            "config": self.config,
            "folders": {f: t.__dict__ for f, t in self.folders.items()},
            "smarthost": {"host": first.host, "port": first.port,
                          "reachable": first.reachable, "detail": first.detail},
            "smarthosts": [h.to_json() for h in self.smarthosts],
            "relays": [{"pid": r.pid, "host": r.host, "started": r.started, "uptime": r.uptime,
                        "supervisor": r.supervisor} for r in self.relays],
            "disk": self.disk.to_json() if self.disk is not None else None,
            "problems": self.problems,
            "inbound": None if self.inbound is None else
                {f: t.__dict__ for f, t in self.inbound.items()},
        }


def config_source(config: Config) -> str:
    """Where a command's settings came from, as every front end says it."""
    return str(config.path.resolve()) if config.path else "embedded defaults (no config.toml here)"


def status_report(config: Config, queue: Queue, *, warn_age: float = WARN_AGE,
                  probe_smarthost: bool = True, now: float | None = None,
                  from_relays: bool = False) -> StatusReport:
    """The queue as a monitor sees it; `problems` lists what needs a human (empty: all well).

    from_relays: each smart host as the running relays last saw it (their notes in the queue),
    instead of a probe: what a relay publishing the dashboard's status knows."""
    from relay.smtp.client import SmtpConnection

    now = time.time() if now is None else now
    folders = {f: folder_totals(queue, f, now) for f in STATUS_FOLDERS}
    relays, stale = running_relays(config.relay.queue_dir)
    smarthosts = []
    for host, seen in zip(config.relay.hosts, host_states(config.relay, queue.root, now), strict=True):
        state = SmartHostState(host.host, host.port, None, "not checked", seen=seen)
        if from_relays:   # what the running relays last saw, instead of a probe
            state = SmartHostState(host.host, host.port, _seen_reachable(seen), seen.describe(now),
                                   seen.cooling_until is not None, seen)
        elif probe_smarthost:
            probe = SmtpConnection.check(host, max_timeout=STATUS_PROBE_TIMEOUT)
            state = SmartHostState(host.host, host.port, probe.ok, probe.detail, probe.unreachable,
                                   seen)
        smarthosts.append(state)
    report = StatusReport(config_source(config), folders, smarthosts, relays,
                          disk_space(config.pickup.dir))
    problems = report.problems
    if config.inbound.domains:
        report.inbound = drop_totals(config, now)
        problems += drop_problems(config, report.inbound, warn_age)
    for what, path in (("pickup folder", config.pickup.dir), ("queue folder", config.relay.queue_dir)):
        if not path.is_dir():
            problems.append(f"{what} {path} does not exist: is this the right config? "
                            f"(config: {report.config})")
    several = len(smarthosts) > 1
    for host in smarthosts:
        name = f"smart host {host.label}" if several else "smart host"
        if host.reachable is False:
            problems.append(f"{name} {host.state}: {host.detail}")
        elif host.reachable is None and host.state == "cooling down":
            problems.append(f"{name} {host.seen.describe(now)}")
    badmail = folders[BADMAIL]
    if badmail.count:
        recent = queue.badmail_since(now - 3600)
        problems.append(f"badmail holds {badmail.count} message(s), {recent} new in the last hour: "
                        "see `relay list --folder badmail`")
    oldest = folders[DEFERRED].oldest_age
    if oldest is not None and oldest > warn_age:
        problems.append(f"oldest deferred message is {format_duration(oldest)} old "
                        f"(over {format_duration(warn_age)})")
    if stale:
        problems.append(f"cleared {stale} stale pid file(s) of relays that did not stop cleanly")
    if report.disk is not None and report.disk.low:
        problems.append(f"pickup filesystem nearly full: {report.disk.warning()}; when it is full a "
                        "`cp` into pickup is cut short: free space (`relay check` says where)")
    return report


def drop_totals(config: Config, now: float) -> dict[str, FolderTotals]:
    """The drop folder ([inbound] dir) and the site's badmail in it."""
    drop = config.inbound.dir
    return {DROP: totals_of(drop, now), DROP_BADMAIL: totals_of(drop / BADMAIL_FOLDER, now)}


def drop_problems(config: Config, totals: dict[str, FolderTotals], warn_age: float) -> list[str]:
    """What needs a human in the drop folder: missing, not read by the site, or files the
    site could not handle."""
    drop = config.inbound.dir
    if not drop.is_dir():
        return [f"drop folder {drop} does not exist: mail for {', '.join(config.inbound.domains)} "
                "cannot be stored (contrib/install-layout.sh makes it; `relay receive` too)"]
    problems = []
    oldest = totals[DROP].oldest_age
    if oldest is not None and oldest > warn_age:
        problems.append(f"the drop folder's oldest message is {format_duration(oldest)} old "
                        f"(over {format_duration(warn_age)}): is `flask --app webapp "
                        "inbound-worker` running?")
    if totals[DROP_BADMAIL].count:
        problems.append(f"the drop folder's badmail holds {totals[DROP_BADMAIL].count} message(s) "
                        f"the site could not handle: see {drop / BADMAIL_FOLDER}")
    return problems


def _seen_reachable(seen: HostState) -> bool | None:
    if seen.cooling_until is not None:
        return False
    return True if seen.last_answered is not None else None


def dashboard_snapshot(config: Config, queue: Queue, now: float,
                       rows: ShownRows | None = None) -> Snapshot:
    """The same status for the site's dashboard, for channel.status.write(): the report with
    each smart host as the relays last saw it (no probe: a running relay knows), the live
    relays' delivery rate and last error, and the rows of the ROWS_PER_FOLDER newest messages
    in each of channel.status.SHOWN_FOLDERS (relay.admin.shown_rows: envelope, the last
    attempts, the badmail reason; never a subject or a body). `rows`: the rows kept from the
    last snapshot (the publishing relay's), read again only where a file changed. Its format is
    channel.status's, which the site imports; building it needs the queue, which only the
    relay may read."""
    activity = combined(queue.root, running_relays(config.relay.queue_dir)[0], now)
    report = status_report(config, queue, now=now, from_relays=True)
    rows = rows if rows is not None else ShownRows()
    # The status part is `relay status --json`'s report, read back typed: one shape for both.
    return Snapshot(now, os.getpid(), QueueStatus.from_json(report.to_json()),
                    DeliveryActivity.from_json(activity),
                    {folder: rows.newest(queue, folder, ROWS_PER_FOLDER, now) for folder in SHOWN_FOLDERS},
                    ROWS_PER_FOLDER)
