"""What a web request pays per email: a pickup-folder write, or an SMTP send?

For N ~2 KB notifications (text + HTML, distinct recipients) it measures
messages per second of:
  (a) spooler.message.build() alone
  (b) build + PickupWriter(durable=True).write()   (fsync file, rename, fsync folder)
  (c) build + PickupWriter(durable=False).write()  (write + rename)
  (d) build + smtplib.sendmail to a relay.sink.Sink on 127.0.0.1, new connection per message
  (e) the same over one persistent connection
  (f) build with stdlib EmailMessage (policy.default) + as_bytes(), for comparison with (a)
Each case first runs a warm-up round that is not timed (see MEASUREMENTS.md in the shared project notes).
The sink runs in this process and stores what it receives in a Maildir next to the
pickup folders, so (d) and (e) include its work (~1 ms/message), as a smart host would.

Run:  .venv/bin/python bench/pickup_vs_smtp.py [-n N] [--dir PATH]
The pickup folders go in a fresh ./var/bench-XXXX (or PATH/bench-XXXX with --dir, e.g.
--dir /dev/shm for tmpfs), removed at the end. Compare ratios within one run, not
absolute figures across runs: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import smtplib
import tempfile
import time
from collections.abc import Callable
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from relay.sink.server import Sink
from spooler.message import Address, Notification, build
from spooler.pickup import PickupWriter

WARMUP = 200
SENDER = Address("noreply@example.test", "Q&A Site")
TEXT = ("Hello {name},\n\nThere is a new answer to your question \"How do I keep a web request "
        "fast when it sends email?\":\n\n") + ("> Write the message to a pickup folder and let a "
                                              "relay daemon forward it over SMTP.\n") * 6 + (
        "\nSee the answer: https://qa.example.test/q/{i}#answer\n"
        "You receive this because you asked the question. Unsubscribe: "
        "https://qa.example.test/settings/notifications\n")
HTML = ("<html><body><p>Hello {name},</p><p>There is a new answer to your question "
        "<a href=\"https://qa.example.test/q/{i}\">How do I keep a web request fast when it "
        "sends email?</a>:</p><blockquote>") + ("<p>Write the message to a pickup folder and "
                                                "let a relay daemon forward it.</p>") * 6 + (
        "</blockquote><p><a href=\"https://qa.example.test/settings/notifications\">"
        "Unsubscribe</a></p></body></html>\n")


def notifications(count: int) -> list[Notification]:
    return [Notification(
        sender=SENDER, to=[Address(f"user{i}@example.test", f"User Nümber {i}")],
        subject="New answer to your question", text=TEXT.format(name=f"User {i}", i=i),
        html=HTML.format(name=f"User {i}", i=i)) for i in range(count)]


def build_stdlib(n: Notification) -> bytes:
    """The same message with EmailMessage (policy.default); CRLF output like build()."""
    m = EmailMessage(policy=policy.default)
    m["From"] = HeaderAddress(n.sender.name, addr_spec=n.sender.address)
    m["To"] = [HeaderAddress(a.name, addr_spec=a.address) for a in n.to]
    m["Subject"] = n.subject
    m["Date"] = formatdate(usegmt=True)
    m["Message-ID"] = make_msgid(domain="example.test")
    m["Auto-Submitted"] = "auto-generated"
    m["X-Auto-Response-Suppress"] = "All"
    m.set_content(n.text, cte="quoted-printable")
    m.add_alternative(n.html, subtype="html", cte="quoted-printable")
    return m.as_bytes(policy=policy.SMTP)


def timed(step: Callable[[Notification], object], notes: list[Notification]) -> float:
    """Seconds for step() over notes[WARMUP:], after an untimed run over notes[:WARMUP]."""
    for n in notes[:WARMUP]:
        step(n)
    start = time.perf_counter()
    for n in notes[WARMUP:]:
        step(n)
    return time.perf_counter() - start


def filesystem_of(path: str) -> tuple[str, str, str]:
    """(mount point, fs type, device) of the mount holding `path`, from /proc/mounts."""
    path = os.path.realpath(path)
    best = ("", "?", "?")
    with open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            device, mount, fstype = line.split()[:3]
            mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), mount)  # \040 = " "
            inside = path == mount or path.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best[0]):  # longest; a later mount hides earlier
                best = (mount, fstype, device)
    return best


def run_cases(base: str, notes: list[Notification]) -> dict[str, float]:
    seconds: dict[str, float] = {}
    seconds["(a) build only"] = timed(build, notes)
    for label, durable in (("(b) build + pickup, durable", True),
                           ("(c) build + pickup, not durable", False)):
        folder = os.path.join(base, "durable" if durable else "plain")
        os.mkdir(folder)
        writer = PickupWriter(folder, durable=durable)
        seconds[label] = timed(lambda n, w=writer: w.write(build(n)), notes)
        assert len(os.listdir(folder)) == len(notes), f"{folder}: files missing"

    sink = Sink(os.path.join(base, "sink"), host="127.0.0.1")
    try:
        sink.start()
        def send_new_connection(n: Notification) -> None:
            msg = build(n)
            with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost",
                              timeout=10) as smtp:
                smtp.sendmail(msg.sender, list(msg.recipients), msg.content)

        seconds["(d) build + SMTP, new connection"] = timed(send_new_connection, notes)
        with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost",
                          timeout=10) as smtp:
            def send_persistent(n: Notification) -> None:
                msg = build(n)
                smtp.sendmail(msg.sender, list(msg.recipients), msg.content)

            seconds["(e) build + SMTP, one connection"] = timed(send_persistent, notes)
        assert sink.maildir.count() == 2 * len(notes), "the sink did not store every message"
    finally:
        sink.stop()
    seconds["(f) EmailMessage build + as_bytes"] = timed(build_stdlib, notes)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="timed messages per case")
    parser.add_argument("--dir", help="parent of the pickup folders (default: ./var)")
    args = parser.parse_args()
    if not 1 <= args.n <= 1_000_000:
        parser.error("-n must be between 1 and 1,000,000")
    parent = os.path.abspath(args.dir or "var")
    made_parent = not os.path.exists(parent)
    if not made_parent and not os.path.isdir(parent):
        parser.error(f"--dir {parent} is not a folder")
    os.makedirs(parent, exist_ok=True)
    base = tempfile.mkdtemp(prefix="bench-", dir=parent)
    try:
        mount, fstype, device = filesystem_of(base)
        notes = notifications(WARMUP + args.n)
        size = sum(len(build(n).content) for n in notes[:100]) / 100
        print(f"pickup dir: {base}\nfilesystem: {fstype} on {mount} ({device})")
        print(f"N = {args.n:,} timed messages per case (+{WARMUP} untimed warm-up), "
              f"~{size:,.0f} bytes each")
        seconds = run_cases(base, notes)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if made_parent:
            try:
                os.rmdir(parent)
            except OSError:
                pass
    reference = args.n / seconds["(d) build + SMTP, new connection"]
    width = max(len(label) for label in seconds)
    print(f"\n{'case':<{width}}  {'msgs/s':>9}  {'µs/msg':>9}  {'vs (d)':>7}")
    for label, secs in seconds.items():
        rate = args.n / secs
        print(f"{label:<{width}}  {rate:>9,.0f}  {secs / args.n * 1e6:>9,.1f}  "
              f"{rate / reference:>6.2f}×")


if __name__ == "__main__":
    main()
