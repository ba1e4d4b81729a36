"""A rate limit towards one smart host, shared by every connection to it: its rate_limit key.

A token bucket: "50/s" refills 50 tokens a second, "50000/d" one every 1.7 s;
it holds at most one second's worth (at least one), so a quota is never
exceeded by more than a second's burst. Waiting is not failing: a message
waits for its token, it is never deferred for the limit.
"""

from __future__ import annotations

import threading
import time

from settings import parse_rate


class RateLimiter:
    def __init__(self, spec: str):
        count, per = parse_rate(spec)
        self.rate = count / per                      # tokens per second
        self.capacity = max(1.0, self.rate)          # one second's burst at most
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self, stop: threading.Event) -> bool:
        """Wait for a token; False if `stop` was set while waiting."""
        while not stop.is_set():
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return True
                wait = (1 - self.tokens) / self.rate
            stop.wait(min(wait, 1.0))
        return False

    def refund(self) -> None:
        """Give back a token taken for work that turned out not to exist."""
        with self.lock:
            self.tokens = min(self.capacity, self.tokens + 1)
