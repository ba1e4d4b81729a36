"""DKIM for the relay benchmark: the key, Postfix's private OpenDKIM milter, and the proof.

make_dkim_key() writes the 2048-bit RSA key both MTAs sign with (work/dkim.key, 0600).
OpenDkim runs Debian's opendkim in the foreground on a config of its own in a private
folder under /run (Domain/Selector/KeyFile for DOMAIN, Mode s, relaxed/relaxed, Socket
local:<that folder>/opendkim.sock with UMask 000 so Postfix's cleanup, running as the
postfix user, can reach it): a unix socket, as over TCP the milter's small writes wait 40 ms
each for a delayed ACK. require_opendkim() installs the package (apt-get, no
recommends, no service started) when it is missing and the benchmark runs as root.
check_signed() verifies a sample of the messages a sink stored with dkimpy, against
the TXT record of the key (no DNS): figures count only if the mail really was signed.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOMAIN, SELECTOR = "example.test", "bench"
OPENDKIM = "/usr/sbin/opendkim"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")   # apt's hook: exit 101 = start no service
PRIVATE_PARENT = "/run"    # root's alone (0755): where the milter's config, key and socket live
SAMPLE = 50        # messages checked per case, spread over the run


class DkimBenchError(Exception):
    pass


def make_dkim_key(work: Path) -> None:
    """dkim.key: a 2048-bit RSA key in PKCS#8 PEM, mode 0600, in the work folder."""
    from cryptography.hazmat.primitives import serialization  # a test dependency
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(work / "dkim.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as f:
        f.write(pem)


def dns_record(key_file: Path) -> bytes:
    """The TXT record of selector._domainkey.DOMAIN for the key: v=DKIM1; k=rsa; p=..."""
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_pem_private_key(key_file.read_bytes(), None).public_key()
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def require_opendkim() -> str | None:
    """None when opendkim can be run (installed now if missing, as root); else why not."""
    if os.access(OPENDKIM, os.X_OK):
        return None
    if os.geteuid() != 0:
        return f"{OPENDKIM} is missing (apt-get install opendkim, as root)"
    print("  installing opendkim (apt-get, no recommends, its service not started)")
    guard = not POLICY_RC_D.exists()
    if guard:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                               "--no-upgrade", "opendkim"], capture_output=True, timeout=600,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    finally:
        if guard:
            POLICY_RC_D.unlink()
    if done.returncode != 0 or not os.access(OPENDKIM, os.X_OK):
        return f"apt-get install opendkim failed: {done.stderr.decode(errors='replace')[-300:]}"
    return None


class OpenDkim:
    """A private opendkim signing for DOMAIN with key_file, listening on HOME/opendkim.sock.

    HOME is a folder of its own under /run: opendkim refuses a config file or key below a
    folder others may write to (/dev/shm, /tmp), sticky or not. stop() removes it."""

    def __init__(self, work: Path, key_file: Path):
        self.work, self.proc = work, None
        self.home = Path(tempfile.mkdtemp(prefix="bench-opendkim-", dir=PRIVATE_PARENT))
        self.home.chmod(0o755)   # Postfix's cleanup (the postfix user) reaches the socket
        key = self.home / "dkim.key"
        shutil.copyfile(key_file, key)
        key.chmod(0o600)
        self.socket = self.home / "opendkim.sock"
        self.config = self.home / "opendkim.conf"
        self.config.write_text(
            f"Syslog no\nDomain {DOMAIN}\nSelector {SELECTOR}\nKeyFile {key}\n"
            f"Socket local:{self.socket}\nUMask 000\nMode s\nCanonicalization relaxed/relaxed\n"
            f"SignatureAlgorithm rsa-sha256\nPidFile {self.home}/opendkim.pid\n")

    def start(self, timeout: float = 10.0) -> None:
        with open(self.work / "opendkim.log", "wb") as log:
            self.proc = subprocess.Popen([OPENDKIM, "-f", "-x", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.settimeout(1.0)
                    probe.connect(str(self.socket))
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    log_text = (self.work / "opendkim.log").read_text(errors="replace")[-500:]
                    raise DkimBenchError(f"opendkim did not listen on {self.socket}: {log_text}") from None
                time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)


def check_signed(folder: Path, key_file: Path, label: str, sample: int = SAMPLE) -> int:
    """Verify `sample` of the messages in `folder` (spread over the run by name) with dkimpy;
    raises DkimBenchError naming those without a good signature; returns how many it checked."""
    import dkim  # a dependency of the relay

    record = dns_record(key_file)
    names = sorted(os.listdir(folder))
    if not names:
        raise DkimBenchError(f"[{label}] no message at the sink to check the DKIM signature of")
    picked = sorted({names[i * len(names) // sample] for i in range(sample)})
    bad = []
    for name in picked:
        data = (folder / name).read_bytes()
        ok = b"DKIM-Signature:" in data and dkim.verify(
            data, dnsfunc=lambda _name, timeout=5: record)
        if not ok:
            bad.append(name)
    if bad:
        raise DkimBenchError(f"[{label}] {len(bad)} of {len(picked)} messages checked carry no DKIM "
                             f"signature that verifies (e.g. {folder / bad[0]})")
    return len(picked)
