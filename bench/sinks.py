"""The smart hosts the relay benchmarks send to, and the count of what arrived at them.

Sink runs `relay sink` (aiosmtpd + Maildir: about 1 ms of CPU a message, so above
~1,000/s it measures itself) or Postfix's C `smtp-sink -c` as a subprocess, and a
thread counts arrivals from its stdout. During a drain it reads what came every
DRAIN_READ_PAUSE and wakes the waiter only at the target, rather than two threads
waking for every message (that counted in the machine's CPU figure as the MTA's
cost); one message at a time (the idle latency) is seen at once. With `dump`, smtp-sink also
writes each message to a file in that folder (for checking signatures; `relay sink`
always keeps them). Given a target, the thread also reads the machine's busy time
(bench/machine.py) the moment the target-th message arrives: the end of a CPU figure.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

from machine import busy_seconds
from mta_runs import RELAY, SMTP_SINK, BenchError, RelayRun, stop

DRAIN_READ_PAUSE = 0.002   # seconds between reads while a drain runs: arrivals are this exact


class Sink:
    """A sink subprocess and its arrival count, read from its stdout by a thread."""

    def __init__(self, kind: str, work: Path, port: int, tls: bool = False, dump: Path | None = None):
        if kind == "relay":   # prints one "sink: from=..." line per stored message
            cmd = [str(RELAY), "sink", "--host", "127.0.0.1", "--port", str(port),
                   "--maildir", str(work / "sink")]
            if tls:   # STARTTLS offered and required
                cmd += ["--tls-cert", str(work / "cert.pem"), "--tls-key", str(work / "key.pem")]
        else:                 # -c: "sess=1 quit=0 mesg=42\r" after each "."; -u: needed as root
            cmd = [SMTP_SINK, "-c", *(["-u", "nobody"] if os.geteuid() == 0 else []),
                   *(["-d", f"{dump}/%H%M%S."] if dump else []), f"127.0.0.1:{port}", "1000"]
        self.kind, self.count, self.at, self.cond = kind, 0, 0.0, threading.Condition()
        self.first_at = 0.0   # the first arrival: rates from here leave out start-up
        self.target, self.busy_at_target = 0, None   # machine busy seconds when `target` arrived
        with open(work / "sink.err", "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=work)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    stop(self.proc, grace=5)
                    raise BenchError(f"{cmd[0]} did not listen on 127.0.0.1:{port}") from None
                time.sleep(0.05)

    def _read(self) -> None:
        rest, count = b"", 0
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            if self.kind == "relay":
                *lines, rest = (rest + chunk).split(b"\n")
                count += sum(line.startswith(b"sink: from=") for line in lines)
            else:
                *records, rest = (rest + chunk).split(b"\r")
                # the last count counts all before it: about one search a read, not one a
                # message, so counting costs the machine's CPU figure next to nothing
                for record in reversed(records):
                    if m := re.search(rb"mesg=(\d+)", record):
                        count = max(count, int(m[1]))
                        break
            if self.target and count >= self.target and self.busy_at_target is None:
                self.busy_at_target = busy_seconds()   # first, before waking anyone
            draining = 0 < count < self.target
            with self.cond:
                if count != self.count:
                    self.count, self.at = count, time.monotonic()
                    self.first_at = self.first_at or self.at
                    if not draining:
                        self.cond.notify_all()
            if draining:   # read a batch every DRAIN_READ_PAUSE, not one message per wake-up
                time.sleep(DRAIN_READ_PAUSE)

    def wait_for(self, target: int, deadline: float, relay: RelayRun) -> bool:
        with self.cond:
            while self.count < target:
                if time.monotonic() >= deadline:
                    return False
                idle = not self.cond.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                if idle and (not relay.alive() or self.proc.poll() is not None):
                    return False   # nothing for a second: is everyone still running?
        return True
