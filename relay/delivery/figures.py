"""What delivery reports as it works, for the metrics and the dashboard: the one interface.

The daemon keeps the Prometheus metrics and the dashboard's activity
(relay.daemon.figures implements this); delivery only calls these methods, so it never
imports the daemon. Called from worker threads: an implementation must be thread-safe.
"""

from __future__ import annotations

from typing import Protocol

from relay.delivery.fate import Fate
from relay.smtp.failover import HostTried, NoHost
from relay.smtp.replies import DeliveryResult


class Figures(Protocol):
    def sent(self, answer: DeliveryResult | NoHost, tried: list[HostTried], recipients: int) -> None:
        """One send across the smart hosts: what each host did and what came back."""

    def moved(self, fate: Fate) -> None:
        """A fate carried out: the message is gone, deferred, in badmail or given back."""

    def unreadable(self) -> None:
        """A file the relay would not read went to badmail unclaimed."""
