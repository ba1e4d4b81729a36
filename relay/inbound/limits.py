"""How much one client may ask of `relay receive`: connections at once (from everyone, from one
address) and messages per period from one address.

Reads [inbound] connections, client_connections and client_message_rate (passed in). Keeps
only counts in memory (a restart forgets them, as Postfix's anvil does). The time is an
argument: tests need no clock. Memory is bounded by the clients seen in one period: buckets
back at full are forgotten once there are more than PRUNE_AT of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

PRUNE_AT = 4096   # remembered client buckets before the full ones are let go


@dataclass
class _Bucket:
    tokens: float
    at: float


class ClientLimits:
    """Counts per client address (a string: the peer's IP). Not thread-safe: one event loop
    calls it."""

    def __init__(self, connections: int, client_connections: int,
                 message_rate: tuple[int, float] | None):
        self.connections = connections
        self.client_connections = client_connections
        self.message_rate = message_rate    # (messages, per seconds) or None: no limit
        self.open: Counter[str] = Counter()
        self.total = 0
        self._buckets: dict[str, _Bucket] = {}

    def connect(self, client: str) -> str | None:
        """Count a new connection from `client`; None when it may stay, else what it is over
        (the connection is then not counted)."""
        if self.total >= self.connections:
            return f"{self.connections} connections at once from all clients"
        if self.open[client] >= self.client_connections:
            return f"{self.client_connections} connections at once from your address"
        self.open[client] += 1
        self.total += 1
        return None

    def disconnect(self, client: str) -> None:
        """A counted connection from `client` ended."""
        self.total -= 1
        self.open[client] -= 1
        if self.open[client] <= 0:
            del self.open[client]

    def take_message(self, client: str, now: float) -> str | None:
        """Spend one of `client`'s messages; None when it had one, else the rate it is over."""
        if self.message_rate is None:
            return None
        count, period = self.message_rate
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= PRUNE_AT:
                self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(float(count), now)
        bucket.tokens = min(float(count), bucket.tokens + (now - bucket.at) * count / period)
        bucket.at = now
        if bucket.tokens < 1.0:
            return f"{count} messages per {period:g}s from your address"
        bucket.tokens -= 1.0
        return None

    def _forget_full(self, now: float) -> None:
        count, period = self.message_rate
        full = [c for c, b in self._buckets.items() if b.tokens + (now - b.at) * count / period >= count]
        for client in full:
            del self._buckets[client]
