"""Where the relay's log lines go: stderr, or [relay] log_file at [relay] log_level.

A log file is a WatchedFileHandler: when logrotate moves it away, the next
line goes to a new file of the same name; SIGHUP also reopens it, for
rotation set-ups that copy-and-truncate or expect the signal.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "%(asctime)s relay[%(process)d] %(levelname)s %(message)s"


def configure_logging(level: str = "info", log_file: Path | None = None) -> None:
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.WatchedFileHandler(log_file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger("relay")
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def reopen_log_files() -> None:
    """Close the relay's log files; the next line reopens them (after logrotate moved them)."""
    for handler in logging.getLogger("relay").handlers:
        if isinstance(handler, logging.FileHandler):
            handler.close()
