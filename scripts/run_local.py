"""Run the whole chain locally on the embedded defaults: site + relay + sink.

Upgrades the site's database, starts each part as a child process with the
same config, says where to look, and on Ctrl-C or SIGTERM stops them all
(SIGTERM, then a bounded wait).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

BIN = Path(sys.executable).parent


def main() -> int:
    args = sys.argv[1:]  # e.g. --config PATH, passed to every part
    if args[:1] == ["--config"] and len(args) > 1:
        os.environ["PICKUP_RELAY_CONFIG"] = str(Path(args[1]).resolve())
    from settings import load_config

    config = load_config()
    site = urlsplit(config.webapp.base_url)
    flask = [str(BIN / "flask"), "--app", "webapp"]
    subprocess.run([*flask, "init-db"], check=True)
    parts = {
        "sink": [str(BIN / "relay"), *args, "sink"],
        "relay": [str(BIN / "relay"), *args, "run"],
        "site": [*flask, "run", "--host", site.hostname or "127.0.0.1", "--port", str(site.port or 5000)],
    }
    children: dict[str, subprocess.Popen] = {}
    stop = False

    def request_stop(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for name, command in parts.items():
            children[name] = subprocess.Popen(command, start_new_session=True)
            time.sleep(0.5)  # the sink listens before the relay's first connection
        print(f"run_local: site on {config.webapp.base_url}, relay and sink running; mail lands in "
              f"{config.sink.maildir}/new; Ctrl-C stops everything", flush=True)
        while not stop:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"run_local: {name} exited with {child.returncode}; stopping",
                          file=sys.stderr, flush=True)
                    stop = True
            time.sleep(0.2)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [n for n, c in children.items() if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
