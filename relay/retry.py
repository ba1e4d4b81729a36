"""When to try again: the per-message retry schedule and the whole-host backoff.

RetrySchedule reads [relay] retry_schedule (the last step repeats) and adds
±10% jitter so a burst of failures does not come back as a burst.
HostBackoff is the daemon's memory that the smart host is down: it doubles
from 1 s to 60 s between probes, so a dead host costs a connect a minute, not a spin.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetrySchedule:
    steps: tuple[float, ...]
    jitter: float = 0.10

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
        base = self.steps[min(max(attempts, 1), len(self.steps)) - 1]
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return base * (1 + spread)


@dataclass
class HostBackoff:
    first: float = 1.0
    cap: float = 60.0
    down_until: float = 0.0
    probing: bool = False           # after a pause: one message at a time until one gets through
    _delay: float = field(default=0.0)

    def failed(self, now: float) -> float:
        """The host refused or timed out: pause, longer each time; returns the pause."""
        self._delay = min(self.cap, self._delay * 2) if self._delay else self.first
        self.down_until = now + self._delay
        self.probing = True
        return self._delay

    def answered(self) -> None:
        """The host spoke SMTP (whatever it said): it is up."""
        self._delay = 0.0
        self.down_until = 0.0
        self.probing = False

    def paused(self, now: float) -> bool:
        return now < self.down_until
