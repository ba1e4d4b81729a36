"""The smart hosts a relay forwards to: which one an attempt goes to, and each one's state.

[relay.smarthost] is one host; [[relay.smarthosts]] several, tried in order, or,
for those with a `weight`, at random in proportion to it (hosts without one are
tried after them, in order, as fallbacks). Each host has its own rate limit and
its own cool-down (a HostBackoff): a host that cannot be used (refused, timed
out, 421 greeting, TLS or login failure) is skipped for [relay]
smarthost_cooldown while the others carry the mail; with one host, nothing to
fail over to, its pause starts at 1 s and doubles up to smarthost_cooldown.
The relay pauses as a whole only when every host is cooling down. Notes in the
queue folder (relay.smtp.backoff): <queue>/smarthost.up and .down for the one host,
<queue>/smarthost-HOST-PORT.up and .down for each of several, whose cool-downs
the relay processes sharing the queue take from each other; host_states()
reads them for `relay status`. Memory and those notes only: no message state.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from relay.smtp.backoff import UP_NOTE, HostBackoff, last_answered, read_down_note
from relay.smtp.ratelimit import RateLimiter
from settings import RelayConfig, SmartHostConfig

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def note_paths(queue_root: Path, host: SmartHostConfig, several: bool) -> tuple[Path, Path]:
    """(up note, down note) of `host` in the queue folder."""
    stem = UP_NOTE.removesuffix(".up")
    if several:
        stem += "-" + _UNSAFE.sub("_", f"{host.host}-{host.port}")
    return queue_root / f"{stem}.up", queue_root / f"{stem}.down"


@dataclass
class SmartHost:
    config: SmartHostConfig
    backoff: HostBackoff
    limiter: RateLimiter | None
    label: str = field(init=False)   # host:port, asked several times a message

    def __post_init__(self) -> None:
        self.label = self.config.label


class SmartHosts:
    """Every configured host and its cool-down; what WorkQueue asks before starting a message."""

    def __init__(self, relay: RelayConfig, queue_root: Path, rng: random.Random | None = None):
        several = len(relay.hosts) > 1
        cooldown = relay.smarthost_cooldown
        first = cooldown if several else min(1.0, cooldown)
        self.hosts = []
        for config in relay.hosts:
            up, down = note_paths(queue_root, config, several)
            self.hosts.append(SmartHost(
                config, HostBackoff(first=first, cap=cooldown, note=up, down_note=down, adopt=several),
                RateLimiter(config.rate_limit) if config.rate_limit else None))
        self.rng = rng or random.Random()

    @property
    def limited(self) -> bool:
        return any(h.limiter is not None for h in self.hosts)

    def paused(self, now: float) -> bool:
        """Every host is cooling down: nothing can be sent now."""
        return all(h.backoff.paused(now) for h in self.hosts)

    def try_now(self) -> None:
        """An admin asked for mail to go now: every host's cool-down ends (HostBackoff.try_now)."""
        for host in self.hosts:
            host.backoff.try_now()

    @property
    def probing(self) -> bool:
        """No host is known to answer (each failed or is being probed): one message at a time."""
        return all(h.backoff.probing for h in self.hosts)

    @property
    def down_until(self) -> float:
        """When the first cool-down ends (0 when some host is not cooling down)."""
        return min(h.backoff.down_until for h in self.hosts)

    def order(self, now: float, first: SmartHost | None = None) -> list[SmartHost]:
        """The hosts one attempt may try, in turn: those not cooling down, weighted ones in a
        weighted random order, then the others as configured; `first` (its token taken) leads."""
        up = [h for h in self.hosts if not h.backoff.paused(now)]
        weighted = [h for h in up if h.config.weight > 0]
        ordered = []
        while weighted:
            pick = self.rng.choices(weighted, weights=[h.config.weight for h in weighted])[0]
            ordered.append(pick)
            weighted.remove(pick)
        ordered += [h for h in up if h.config.weight == 0]
        if first is not None and first in ordered:
            ordered.remove(first)
            ordered.insert(0, first)
        return ordered

    def cooling(self, now: float) -> str:
        """Why no host can be tried now, naming each."""
        return "; ".join(f"{h.label} until {time.strftime('%H:%M:%S', time.localtime(h.backoff.down_until))}"
                         for h in self.hosts if h.backoff.paused(now))


@dataclass(frozen=True)
class HostState:
    """What the relays last saw of one host (from the notes): for `relay status`."""
    label: str                    # host:port
    cooling_until: float | None   # a relay skips it until then (None: not cooling down)
    last_error: str               # the last failure a relay saw ("" none)
    last_failed: float | None
    last_answered: float | None   # when a relay last heard it answer (None: never, or no note)

    def describe(self, now: float) -> str:
        if self.cooling_until is not None:
            until = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.cooling_until))
            return f"cooling down until {until} after: {self.last_error}"
        if self.last_answered is not None:
            return f"up (answered a relay {max(0, now - self.last_answered):.0f}s ago)"
        return "not seen by a relay yet"

    def to_json(self) -> dict:
        return {"cooling_until": self.cooling_until, "last_error": self.last_error,
                "last_failed": self.last_failed, "last_answered": self.last_answered}


def host_states(relay: RelayConfig, queue_root: Path, now: float) -> list[HostState]:
    """Each configured host as the running relays' notes show it."""
    several = len(relay.hosts) > 1
    states = []
    for host in relay.hosts:
        up, down = note_paths(queue_root, host, several)
        answered, note = last_answered(up), read_down_note(down)
        cooling = None
        if note is not None and note["until"] > now and (answered is None or answered <= note["since"]):
            cooling = float(note["until"])
        states.append(HostState(host.label, cooling, note["error"] if note else "",
                                note["since"] if note else None, answered))
    return states
