"""`relay check`: is this relay set up to work? Config, folders, filesystem and its free
space, smart host; with [inbound] domains, the drop folder and the listening address
(relay.admin.inbound_check).

Each check says ok, a warning, or what is wrong and how to fix it. Reads the
config, stats and test-writes the folders (a hidden file, removed at once), and
talks EHLO (and STARTTLS/AUTH when configured) to each smart host, reporting the
TLS protocol and certificate it saw. Reads each [relay.dkim] key_file as the
daemon does (owner-only mode, a usable key) and prints the DNS TXT record to
publish for it. Creates nothing else. Warnings do not fail.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from channel.moves import FOLDER_MODES, REQUESTS
from relay.delivery.signing import DkimSetupError, load_key
from relay.queue.diskspace import ADVICE, disk_space
from relay.queue.folders import FOLDERS, Queue
from relay.smtp.client import SmtpConnection
from relay.smtp.credentials import CredentialsError, smarthost_password
from relay.smtp.tls import weak_settings
from settings import Config, SmartHostConfig
from settings.checks import CheckResult


def run_checks(config: Config, smarthost: bool = True) -> list[CheckResult]:
    """Every check; smarthost=False leaves out the connection (a host down now is no reason
    not to start: mail waits in pickup), not the settings and the password."""
    from relay.admin.inbound_check import inbound_checks  # it imports writable_folder from here

    results = [CheckResult("config", True, str(config.path or "embedded defaults (no config.toml)"))]
    results.append(writable_folder("pickup folder", config.pickup.dir, "[pickup] dir"))
    queue = config.relay.queue_dir
    results.append(writable_folder("queue folder", queue, "[relay] queue_dir"))
    missing = [f for f in FOLDERS if not (queue / f).is_dir()]
    if queue.is_dir() and missing:
        # Not a problem: a first start (the unit runs this check before `relay run`) makes them.
        results.append(CheckResult("queue sub-folders", True, f"missing: {', '.join(missing)}; "
                                   "`relay run` creates them at start", warn=True))
    if config.pickup.dir.is_dir() and queue.is_dir():
        same = config.pickup.dir.stat().st_dev == queue.stat().st_dev
        detail = "pickup and queue share a filesystem" if same else \
            "pickup and queue are on different filesystems"
        results.append(CheckResult("one filesystem", same, detail, "" if same else
                                   "claims are rename()s: move [relay] queue_dir next to [pickup] dir"))
    space = disk_space(config.pickup.dir)
    if space is not None:
        results.append(CheckResult("disk space", True, space.warning() or space.describe(),
                                   ADVICE if space.low else "", warn=space.low))
    results += folder_modes(config)
    results += admin_dir_checks(config)
    results += dkim_checks(config)
    results += inbound_checks(config)
    several = len(config.relay.hosts) > 1
    for host in config.relay.hosts:
        results += _smarthost_checks(host, smarthost, f"smart host {host.label}" if several else "smart host")
    return results


def _smarthost_checks(host: SmartHostConfig, connect: bool, title: str) -> list[CheckResult]:
    """Settings that weaken the connection (warnings), a real connection, the certificate it showed."""
    results = [CheckResult(f"{title} security", True, weak, warn=True) for weak in weak_settings(host)]
    if not connect:
        if host.username:
            try:
                smarthost_password(host)
                results.append(CheckResult(f"{title} password", True, "readable"))
            except CredentialsError as e:
                results.append(CheckResult(f"{title} password", False, str(e)))
        return results + [CheckResult(title, True, "not checked (--no-smarthost)")]
    probe = SmtpConnection.check(host, max_timeout=10.0)
    extras = [x for x, on in (("STARTTLS", host.tls == "starttls"), ("TLS", host.tls == "tls"),
                              ("AUTH", bool(host.username))) if on]
    name = title + (f" ({', '.join(extras)})" if extras else "")
    results.append(CheckResult(name, probe.ok, probe.detail, "" if not probe.unreachable else
                               f"is the server at {host.label} running? "
                               "see [relay.smarthost]; for a local run: `relay sink`"))
    cert = probe.certificate
    if cert is not None:
        results.append(CheckResult(f"{title} TLS", True, str(cert), warn=cert.expires_soon,
                                   fix="have the smart host's certificate renewed before it expires: "
                                       "deliveries stop when it does" if cert.expires_soon else ""))
    return results


def dkim_checks(config: Config) -> list[CheckResult]:
    """Each [relay.dkim] key: usable and private to the relay, and the TXT record to publish."""
    results = []
    for dkim in config.relay.dkim:
        name = f"DKIM key for {dkim.domain}"
        try:
            key = load_key(dkim)
        except DkimSetupError as e:
            results.append(CheckResult(name, False, str(e)))   # says the fix; `relay run` refuses
            continue
        results.append(CheckResult(name, True, key.describe()))
        results.append(CheckResult(f"DKIM DNS record for {dkim.domain}", True,
                                   f"publish: {key.dns_record()}"))
    return results


def folder_modes(config: Config) -> list[CheckResult]:
    """Modes that let other users read queued mail, or replace another writer's pickup file."""
    results = []
    exposed = Queue.from_config(config).exposed_folders()
    if exposed:
        results.append(CheckResult(
            "queue modes", False, "others can look into the queue (it holds password-reset "
            "links): " + "; ".join(exposed), f"chmod -R go-rwx {config.relay.queue_dir}"))
    elif config.relay.queue_dir.is_dir():
        results.append(CheckResult("queue modes", True, "the queue is private to its owner"))
    try:
        mode = stat.S_IMODE(config.pickup.dir.stat().st_mode)
    except OSError:
        return results
    pickup = config.pickup.dir
    if mode & 0o002:
        results.append(CheckResult("pickup modes", False, f"{pickup} is mode {mode:04o}: any user "
                                   "can drop mail there", f"chmod o-rwx {pickup}"))
    elif mode & 0o020 and not mode & stat.S_ISVTX:
        results.append(CheckResult("pickup modes", False, f"{pickup} is mode {mode:04o}: one writer "
                                   "can delete or replace another's pending message",
                                   f"chmod +t {pickup} (the sticky bit)"))
    else:
        results.append(CheckResult("pickup modes", True, f"{pickup} is mode {mode:04o}"))
    return results


def admin_dir_checks(config: Config) -> list[CheckResult]:
    """The queue dashboard's window ([relay] admin_dir): for the admin group only."""
    admin_dir = config.relay.admin_dir
    if admin_dir is None:
        return [CheckResult("dashboard folder", True, "off ([relay] admin_dir is empty)")]
    if not admin_dir.is_dir():
        return [CheckResult("dashboard folder", True, f"{admin_dir} is missing; `relay run` makes "
                            "it, in the relay's own group", "contrib/install-layout.sh makes it "
                            "for the admin group alone", warn=True)]
    problems, warnings = [], []
    for sub in FOLDER_MODES:
        path = admin_dir / sub
        try:
            st = path.stat()
        except OSError as e:
            problems.append(f"{path}: {e.strerror}")
            continue
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o007:
            problems.append(f"{path} is mode {mode:04o}: others may read the queue's envelopes"
                            + (" or ask for moves" if sub == REQUESTS else ""))
        if sub == REQUESTS and not mode & stat.S_ISVTX:
            warnings.append(f"{path} lacks the sticky bit: one admin's request can be replaced")
    try:
        shared = admin_dir.stat().st_gid == config.pickup.dir.stat().st_gid \
            and config.pickup.dir.stat().st_mode & 0o020
    except OSError:
        shared = False
    if shared:
        warnings.append(f"{admin_dir} is in pickup's group: every writer of pickup may read the "
                        "status and ask for moves")
    if problems:
        return [CheckResult("dashboard folder", False, "; ".join(problems),
                            f"chmod -R o-rwx {admin_dir}")]
    if warnings:
        return [CheckResult("dashboard folder", True, "; ".join(warnings),
                            "run contrib/install-layout.sh (the admin group, modes 2710 and 3730)",
                            warn=True)]
    return [CheckResult("dashboard folder", True, f"{admin_dir}: the admin group's alone")]


def writable_folder(name: str, path: Path, key: str) -> CheckResult:
    if not path.exists():
        return CheckResult(name, False, f"{path} does not exist", f"mkdir -p {path} (or set {key})")
    if not path.is_dir():
        return CheckResult(name, False, f"{path} is not a folder", f"set {key} to a folder")
    probe = path / f".relay-check-{os.getpid()}.tmp"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return CheckResult(name, False, f"{path} is not writable: {e.strerror}",
                           f"give the relay's user write access to {path}")
    return CheckResult(name, True, f"{path} is writable")
