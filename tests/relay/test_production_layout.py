"""docs/production.md's production layout, followed on a scratch root: the site and the relay as two users.

Runs `contrib/install-layout.sh` (what docs/production.md tells a sysadmin to run) under a scratch
PREFIX with throwaway system users, sets fs.protected_hardlinks = 1 as Debian does, writes
mail as the site's user under umask 0027 and runs `relay run` as the relay's user with
`contrib/config.production.toml` installed as step 2 says (its paths moved under the scratch
root, its smart host pointed at a test server that requires STARTTLS and AUTH, with a private
CA as ca_file, its DKIM table on with a key made by openssl as step 2 makes it). Needs root
(as CI runs); skipped otherwise, saying so.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import dkim
import pytest
import trustme
from aiosmtpd.smtp import AuthResult

from tests.ports import free_port
from tests.relay.inbound.inbound_helpers import BOUNCE
from tests.relay.relay_helpers import RELAY_BIN, files, wait_until
from tests.smtp_servers import FaultyServer

REPO = Path(__file__).resolve().parents[2]
PYTHONPATH = f"{REPO}:{sysconfig.get_paths()['purelib']}"
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd"),
    reason="needs root and useradd: it creates system users and a layout owned by them")

USER, PASSWORD = "relay@example.org", "pr0duction-layout-Secret"   # USER as in the example
SITE_WRITE = """
import sys
from spooler.message import Address, Notification, build
from spooler.pickup import PickupWriter
message = build(Notification(sender=Address("noreply@example.org", "Q&A"),
                             to=[Address(sys.argv[2])], subject="Reset your password",
                             text="https://qa.example.org/reset/secret-token\\n"))
print(PickupWriter(sys.argv[1]).write(message))
"""
SITE_TAKES = """
import sys
from pathlib import Path
from webapp.inbound.drop_folder import DropFolder
folder = DropFolder(Path(sys.argv[1]))
for name in folder.waiting(10):
    claimed = folder.claim(name)
    assert b"Status: 5.1.1" in claimed.read_bytes()
    folder.to_badmail(claimed, "kept to show the relay can count it")
folder.close()
"""
TRY_TO = """
import os, sys
action, path = sys.argv[1], sys.argv[2]
try:
    if action == "read":
        open(path, "rb").read()
    elif action == "unlink":
        os.unlink(path)
    elif action == "replace":
        own = os.path.join(os.path.dirname(path), ".mine.tmp")
        open(own, "wb").close()
        os.rename(own, path)
except PermissionError:
    sys.exit(13)
"""


class Layout:
    """The scratch root, its users and the commands each of them may run."""

    def __init__(self, root: Path, relay: str, site: str, cron: str, python: str):
        self.root, self.relay, self.site, self.cron = root, relay, site, cron
        self.python = python
        self.relay_cmd = [python, "-m", "relay"]
        self.spool = root / "var/spool/pickup-relay"
        self.pickup, self.queue = self.spool / "pickup", self.spool / "queue"
        self.config = root / "etc/pickup-relay/config.toml"
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": PYTHONPATH,
                    "PICKUP_RELAY_CONFIG": str(self.config)}

    def as_user(self, user: str, args: list[str], *, stdin: bytes | None = None,
                umask: int = 0o027) -> subprocess.CompletedProcess:
        entry = pwd.getpwnam(user)
        groups = [g for g in os.getgrouplist(user, entry.pw_gid)]
        return subprocess.run(args, user=entry.pw_uid, group=entry.pw_gid, extra_groups=groups,
                              umask=umask, env=self.env, cwd=REPO, input=stdin,
                              capture_output=True, timeout=60, check=False)

    def site_writes(self, recipient: str) -> Path:
        done = self.as_user(self.site, [self.python, "-c", SITE_WRITE, str(self.pickup),
                                        recipient])
        assert done.returncode == 0, done.stderr.decode()
        return Path(done.stdout.decode().strip())

    def may(self, user: str, action: str, path: Path) -> bool:
        done = self.as_user(user, [self.python, "-c", TRY_TO, action, str(path)])
        assert done.returncode in (0, 13), done.stderr.decode()
        return done.returncode == 0


@pytest.fixture
def protected_hardlinks():
    knob = Path("/proc/sys/fs/protected_hardlinks")
    before = knob.read_text()
    try:
        knob.write_text("1")
    except OSError as e:
        pytest.skip(f"cannot set fs.protected_hardlinks here: {e.strerror}")
    yield
    knob.write_text(before)


@pytest.fixture
def layout(protected_hardlinks):
    tag = os.urandom(3).hex()
    relay, site, cron = f"prt-relay-{tag}", f"prt-site-{tag}", f"prt-cron-{tag}"
    root = Path(tempfile.mkdtemp(prefix="pickup-relay-root-", dir="/tmp"))
    os.chmod(root, 0o755)  # other users must reach the spool below it, as under /
    try:
        for user in (site, cron):
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                            "--shell", "/usr/sbin/nologin", user], check=True, timeout=30)
        python = python_for(site)
        subprocess.run(["sh", str(REPO / "contrib/install-layout.sh")], check=True, timeout=30,
                       env={**os.environ, "PREFIX": str(root), "RELAY_USER": relay,
                            "SITE_USER": site})
        subprocess.run(["usermod", "-a", "-G", relay, cron], check=True, timeout=30)
        yield Layout(root, relay, site, cron, python)
    finally:
        for user in (relay, site, cron):
            subprocess.run(["userdel", user], capture_output=True, timeout=30, check=False)
            subprocess.run(["groupdel", user], capture_output=True, timeout=30, check=False)
        subprocess.run(["groupdel", f"{relay}-admin"], capture_output=True, timeout=30, check=False)
        shutil.rmtree(root, ignore_errors=True)


def python_for(user: str) -> str:
    """An interpreter another user may run with this checkout and its packages: this one,
    or (when it sits in a private home, like a pyenv build) the system's of the same version."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin")):
        if python is None:
            continue
        try:
            probe = subprocess.run([python, "-c", "import relay.cli.main, watchdog, aiosmtpd"],
                                   cwd=REPO, env={"PYTHONPATH": PYTHONPATH}, user=user,
                                   capture_output=True, timeout=30, check=False)
        except PermissionError:  # the interpreter itself is out of this user's reach
            continue
        if probe.returncode == 0:
            return python
    pytest.skip(f"no {version} that user {user} may run with this checkout and its packages")


def install_config(layout: Layout, port: int, ca: trustme.CA) -> None:
    """Step 2 of "Running the relay in production" (docs/production.md): config.toml and the
    password file, as it says, under the scratch root; the smart host set to the test server
    (STARTTLS, AUTH), ca_file for its private CA."""
    relay_gid = pwd.getpwnam(layout.relay).pw_gid
    etc = layout.root / "etc/pickup-relay"
    text = (REPO / "contrib/config.production.toml").read_text()
    for place in ("/etc/pickup-relay", "/var/spool/pickup-relay", "/var/log/pickup-relay",
                  "/var/lib/pickup-relay"):
        text = text.replace(f'"{place}', f'"{layout.root}{place}')
    edits = {'host = "smtp.example.org"': 'host = "127.0.0.1"', "port = 587": f"port = {port}",
             'ca_file = ""': f'ca_file = "{etc}/ca.pem"',
             'metrics_listen = "127.0.0.1:9465"': 'metrics_listen = ""',
             '# [[relay.dkim]]\n# domain = "example.org"': '[[relay.dkim]]\ndomain = "example.org"',
             f'# selector = "mail"\n# key_file = "{etc}/dkim.key"':
                 f'selector = "mail"\nkey_file = "{etc}/dkim.key"'}
    for before, after in edits.items():
        assert before in text, f"the production example no longer has {before}"
        text = text.replace(before, after)
    install = ["install", "-o", "root", "-g", layout.relay, "-m", "0640"]
    edited = layout.root / "config.toml"  # the sysadmin's edited copy, installed as step 2 says
    edited.write_text(text)
    subprocess.run([*install, str(edited), str(layout.config)], check=True, timeout=30)
    ca.cert_pem.write_to_path(str(etc / "ca.pem"))
    os.chown(etc / "ca.pem", 0, relay_gid)
    password = etc / "smarthost.password"
    subprocess.run(["install", "-o", layout.relay, "-g", layout.relay, "-m", "0600", "/dev/null",
                    str(password)], check=True, timeout=30)
    password.write_text(PASSWORD + "\n")
    # The DKIM key, as step 2 makes it: openssl, then owner pickup-relay and mode 0600.
    key = etc / "dkim.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(key)], check=True, timeout=60, capture_output=True)
    shutil.chown(key, layout.relay, layout.relay)
    key.chmod(0o600)


def smart_host(ca: trustme.CA, logins: list[str]) -> FaultyServer:
    """A test smart host requiring STARTTLS and AUTH, with a certificate from `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    def authenticator(server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        logins.append(login)
        ok = (login, password) == (USER, PASSWORD)
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    return FaultyServer(tls=context, require_starttls=True, authenticator=authenticator,
                        auth_require_tls=True)


def start_relay_as(layout: Layout) -> subprocess.Popen:
    """`relay run` as systemd's User= starts it: the user's groups (initgroups)."""
    entry = pwd.getpwnam(layout.relay)
    groups = os.getgrouplist(layout.relay, entry.pw_gid)
    return subprocess.Popen([*layout.relay_cmd, "run"], user=entry.pw_uid, group=entry.pw_gid,
                            extra_groups=groups, env=layout.env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=45)


def test_site_and_relay_as_two_users_deliver_and_keep_the_queue_private(layout):
    ca, logins = trustme.CA(), []
    with smart_host(ca, logins) as upstream:
        install_config(layout, upstream.port, ca)
        checked = layout.as_user(layout.relay, [*layout.relay_cmd, "check"])
        assert checked.returncode == 0, checked.stdout.decode()
        unit = (REPO / "contrib/pickup-relay.service").read_text()
        (pre,) = [line.split("/relay ", 1)[1].split() for line in unit.splitlines()
                  if line.startswith("ExecStartPre=")]
        before_start = layout.as_user(layout.relay, [*layout.relay_cmd, *pre])  # as systemd would
        assert before_start.returncode == 0, before_start.stdout.decode()
        assert PASSWORD not in checked.stdout.decode() + checked.stderr.decode()
        [record] = [line.split("publish: ", 1)[1] for line in checked.stdout.decode().splitlines()
                    if "publish: " in line]
        deliver_through_the_layout(layout, upstream)
    assert set(logins) == {USER}
    assert all(r.tls in ("TLSv1.2", "TLSv1.3") and r.login == USER for r in upstream.received)
    # The site's mail (From: noreply@example.org) verifies against the record `relay check` printed.
    name, _, strings = record.partition(" IN TXT ")
    txt = "".join(re.findall(r'"([^"]*)"', strings)).encode()
    site_mail = [r.content for r in upstream.received if r.sender == "noreply@example.org"]
    assert len(site_mail) == 2
    assert all(dkim.verify(m, dnsfunc=lambda n, timeout=5: txt if n == f"{name}.".encode() else None)
               for m in site_mail)


def deliver_through_the_layout(layout: Layout, upstream: FaultyServer) -> None:
    assert stat.S_IMODE(layout.pickup.stat().st_mode) == 0o3770
    assert stat.S_IMODE(layout.queue.stat().st_mode) == 0o700

    # Before the relay runs: a second writer in the group can neither remove nor replace
    # the site's pending message (the sticky bit).
    pending = layout.site_writes("first@example.org")
    assert stat.S_IMODE(pending.stat().st_mode) == 0o640
    assert not layout.may(layout.cron, "unlink", pending)
    assert not layout.may(layout.cron, "replace", pending)
    assert layout.may(layout.cron, "read", pending)  # pickup is the group's drop box, not a vault

    upstream.faults.rcpt_replies["second@example.org"] = "451 4.3.0 try again later"
    relay = start_relay_as(layout)
    try:
        wait_until(lambda: len(upstream.received) == 1, timeout=30, what="the first message sent")
        layout.site_writes("second@example.org")
        deferred = layout.queue / "deferred"
        wait_until(lambda: files(deferred), timeout=30, what="the second message deferred")
        (queued,) = files(deferred)
        st = queued.stat()
        assert (pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)) == (layout.relay, 0o600)
        assert not layout.may(layout.cron, "read", queued)
        assert not layout.may(layout.site, "read", queued)
        assert not files(layout.pickup)

        # A cron job's mail (relay sendmail as a third user in the group) goes through too.
        sent = layout.as_user(layout.cron, [*layout.relay_cmd, "sendmail", "-i", "root@example.org"],
                              stdin=b"Subject: cron\n\nnightly job done\n")
        assert sent.returncode == 0, sent.stderr.decode()
        wait_until(lambda: len(upstream.received) == 2, timeout=30, what="the cron mail sent")

        # A file its writer shut the relay out of goes to badmail, saying why; nothing is stuck.
        shut_out = layout.as_user(layout.site, [layout.python, "-c", (
            "import os, sys; fd = os.open(sys.argv[1] + '/.x.tmp', os.O_CREAT | os.O_WRONLY, 0o600);"
            "os.write(fd, b'To: a@example.org\\n\\nhi\\n'); os.rename(sys.argv[1] + '/.x.tmp',"
            " sys.argv[1] + '/private.eml')"), str(layout.pickup)])
        assert shut_out.returncode == 0, shut_out.stderr.decode()
        wait_until(lambda: files(layout.queue / "badmail", "*.bdr"), timeout=30,
                   what="the unreadable file in badmail")
        (reason,) = files(layout.queue / "badmail", "*.bdr")
        assert "not readable by the relay's user" in reason.read_text()
        assert f"owner {layout.site}" in reason.read_text() and "mode 0600" in reason.read_text()

        # The admin, as root, retries: the command acts as the queue's owner.
        upstream.faults.rcpt_replies.clear()
        retried = subprocess.run([str(RELAY_BIN), "retry", "--all"], env=layout.env,
                                 capture_output=True, text=True, timeout=60, check=False)
        assert retried.returncode == 0, retried.stderr
        wait_until(lambda: len(upstream.received) == 3, timeout=30, what="the retry sent")
        assert all(pwd.getpwuid(p.stat().st_uid).pw_name == layout.relay
                   for p in (layout.queue / "meta").iterdir())
        refused = layout.as_user(layout.cron, [*layout.relay_cmd, "status"])
        assert refused.returncode == 2 and f"belongs to {layout.relay}" in refused.stderr.decode()
    finally:
        assert stop(relay) == 0
    recipients = sorted(r for message in upstream.received for r in message.recipients)
    assert recipients == ["first@example.org", "root@example.org", "second@example.org"]
    assert b"secret-token" in upstream.received[0].content


SITE_ASKS = """
import json, sys, time
from pathlib import Path
from channel import status
from channel.moves import read_result, submit
admin_dir = Path(sys.argv[1])
seen = status.read(admin_dir)
[shown] = seen.messages["deferred"]
request = submit(admin_dir, "hold", [shown.row.id], "Root <root@example.org>")
for _ in range(300):
    result = read_result(admin_dir, request)
    if result:
        break
    time.sleep(0.1)
print(json.dumps({"id": shown.row.id, "deferred": seen.status.folders["deferred"].count,
                  "result": result.to_json() if result else None}))
"""


def test_the_dashboard_reads_the_relays_status_and_asks_for_moves_without_reading_the_queue(layout):
    admin = layout.spool / "admin"
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in (admin, *admin.iterdir())} == {
        "admin": 0o2710, "requests": 0o3730, "results": 0o2710}
    ca = trustme.CA()
    with smart_host(ca, []) as upstream:
        install_config(layout, upstream.port, ca)
        upstream.faults.rcpt_replies["later@example.org"] = "451 4.3.0 try again later"
        relay = start_relay_as(layout)
        try:
            layout.site_writes("later@example.org")
            wait_until(lambda: files(layout.queue / "deferred"), timeout=30, what="a deferral")
            (queued,) = files(layout.queue / "deferred")
            status = admin / "status.json"
            wait_until(lambda: status.exists() and b'"deferred": {"count": 1' in status.read_bytes(),
                       timeout=30, what="the snapshot showing the deferral")
            st = status.stat()
            assert (pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)) == (layout.relay, 0o640)
            assert grp.getgrgid(st.st_gid).gr_name == f"{layout.relay}-admin"

            asked = layout.as_user(layout.site, [layout.python, "-c", SITE_ASKS, str(admin)])
            assert asked.returncode == 0, asked.stderr.decode()
            answer = json.loads(asked.stdout)
            assert answer["id"] == queued.name.split(".")[0] and answer["deferred"] == 1
            [result] = answer["result"]["results"]
            assert result["ok"] and answer["result"]["admin"] == "Root <root@example.org>"
            (held,) = files(layout.queue / "hold")
            assert pwd.getpwuid(held.stat().st_uid).pw_name == layout.relay
            assert not list((admin / "requests").iterdir())

            # The site reads what the relay publishes, never the queue, and lists nothing.
            assert layout.may(layout.site, "read", status)
            assert not layout.may(layout.site, "read", held)
            for folder in (admin, admin / "requests", admin / "results", layout.queue):
                listing = layout.as_user(layout.site, [layout.python, "-c",
                                                       "import os, sys; os.listdir(sys.argv[1])",
                                                       str(folder)])
                assert b"PermissionError" in listing.stderr, folder
            # A writer of pickup who is not in the admin group (a cron job) can neither read
            # the status nor ask for a move.
            assert not layout.may(layout.cron, "read", status)
            assert not layout.may(layout.cron, "replace", admin / "requests" / f"{'ab' * 16}.json")
        finally:
            assert stop(relay) == 0


def test_mail_coming_back_is_stored_by_the_relays_user_and_taken_by_the_sites(layout):
    """docs/production.md, "Mail that comes back": `relay receive` as the relay's user (on a
    loopback port here, not 25) stores a bounce in the drop folder; the site's user takes it
    (claims, reads, keeps it in badmail with a reason); `relay status` counts what the site made."""
    drop = layout.spool / "drop"
    assert stat.S_IMODE(drop.stat().st_mode) == 0o2770
    ca = trustme.CA()
    port = free_port()
    with smart_host(ca, []) as upstream:
        install_config(layout, upstream.port, ca)
    text = layout.config.read_text()
    for before, after in {'# domains = ["mail.example.org"]': 'domains = ["mail.example.org"]',
                          'listen = "0.0.0.0:25"': f'listen = "127.0.0.1:{port}"'}.items():
        assert before in text, f"the production example no longer has {before}"
        text = text.replace(before, after)
    layout.config.write_text(text)
    entry = pwd.getpwnam(layout.relay)
    receive = subprocess.Popen([*layout.relay_cmd, "receive"], user=entry.pw_uid, group=entry.pw_gid,
                               extra_groups=os.getgrouplist(layout.relay, entry.pw_gid),
                               env=layout.env, cwd=REPO, umask=0o027,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: answers(port), timeout=30, what="relay receive")  # as the relay's user
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail("", ["bounces+abc@mail.example.org"], BOUNCE)
            with pytest.raises(smtplib.SMTPRecipientsRefused):   # never an open relay
                smtp.sendmail("", ["someone@example.net"], BOUNCE)
        (stored,) = [p for p in drop.iterdir() if p.name.endswith(".eml")]
        st = stored.stat()
        owner = (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name)
        assert owner == (layout.relay, layout.relay)
        assert stat.S_IMODE(st.st_mode) == 0o640
    finally:
        assert stop(receive) == 0
    taken = layout.as_user(layout.site, [layout.python, "-c", SITE_TAKES, str(drop)])
    assert taken.returncode == 0, taken.stderr.decode()
    assert not [p for p in drop.iterdir() if p.name.endswith(".eml")]
    status = layout.as_user(layout.relay, [*layout.relay_cmd, "status", "--json", "--no-smarthost"])
    report = json.loads(status.stdout)
    assert report["inbound"]["drop/badmail"]["count"] == 1
    assert any("badmail holds 1 message(s) the site could not handle" in p for p in report["problems"])


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
