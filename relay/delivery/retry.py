"""When a message is tried again: [relay] retry_schedule, the last step repeating.

RetrySchedule adds ±10% jitter so a burst of failures does not come back as a burst.
Built once from the config; relay.delivery.fate asks it for the delay after each
charged attempt. Pure: no clock, no files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetrySchedule:
    steps: tuple[float, ...]
    jitter: float = 0.10

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
        base = self.steps[min(max(attempts, 1), len(self.steps)) - 1]
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return base * (1 + spread)
