"""Reading messages for the inbox's index (relay/sink/index.py): each file's size, time and
indexed text, in order; a big catch-up (the first start over a full Maildir, a lost index) is
parsed in a process per CPU, since parsing is most of a rebuild's time.

Reads the Maildir's files only; a file removed before it was read is left out. Worker
processes are spawned (the inbox runs threads; a fork would copy their locks) and always ended.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from relay.sink.indexed_text import IndexedText, indexed_text
from relay.sink.maildir import Maildir

log = logging.getLogger(__name__)

PARALLEL_FROM = 5_000   # messages to read at once before more processes pay for their start


@dataclass(frozen=True)
class Row:
    name: str
    received_ns: int
    size: int
    text: IndexedText


def read_rows(named: list[tuple[str, Path]]) -> list[Row]:
    rows = []
    for name, path in named:
        try:
            st = path.stat()
            text = indexed_text(Maildir.read(path))
        except FileNotFoundError:
            continue   # removed before we read it
        rows.append(Row(name, st.st_mtime_ns, st.st_size, text))
    return rows


def read_batches(batches: list[list[tuple[str, Path]]]) -> Iterator[list[Row]]:
    """The rows of each batch, batch by batch in the order given."""
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or sum(len(batch) for batch in batches) < PARALLEL_FROM:
        for batch in batches:
            yield read_rows(batch)
        return
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=workers,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            waiting: deque[Future] = deque()
            for batch in batches:
                waiting.append(pool.submit(read_rows, batch))
                if len(waiting) > 2 * workers:   # bounded: rows wait in memory only this long
                    rows = waiting.popleft().result()
                    done += 1
                    yield rows
            while waiting:
                rows = waiting.popleft().result()
                done += 1
                yield rows
    except BrokenProcessPool as e:   # e.g. a __main__ a spawned process cannot import
        log.warning("inbox index: reading in worker processes failed (%s); reading on in one", e)
        for batch in batches[done:]:
            yield read_rows(batch)
