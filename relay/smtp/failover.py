"""One send across the smart hosts: each host not cooling down in turn, each at most once.

send() tries the hosts in the order relay.smtp.smarthosts gives (weighted, then the
fallbacks; the host whose rate-limit token the worker already took goes first). The
first host that answers SMTP gives the message's answer: its DeliveryResult, 4xx and
5xx included, never taken to another host. A host that cannot be used (refused, timed
out, 421 greeting, TLS or login failure) starts its cool-down and the next one is
tried; when none could be used the answer is NoHost, naming each host and why. What
each host did is returned beside the answer, for the metrics. Memory and the hosts'
notes only: no queue state.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from relay.smtp.client import SmtpConnection
from relay.smtp.replies import DeliveryResult
from relay.smtp.smarthosts import SmartHost, SmartHosts
from spooler.envelope import ParsedMessage

log = logging.getLogger("relay")


@dataclass(frozen=True)
class NoHost:
    """No smart host could be used for this attempt; `why` names each host and its failure."""
    why: str
    code: int | None = None      # the last host's reply code, if it said anything (a 421)
    duration: float = 0.0        # seconds spent trying


@dataclass(frozen=True)
class HostTried:
    """One host this send tried: whether it answered, else the cool-down it started."""
    host: SmartHost
    answered: bool
    cooldown: float = 0.0


def send(hosts: SmartHosts, connections: dict[str, SmtpConnection], message: ParsedMessage,
         recipients: list[str], *, paid: SmartHost | None, stopping: threading.Event,
         ahead: tuple[ParsedMessage, list[str]] | None = None,
         ) -> tuple[DeliveryResult | NoHost, list[HostTried]]:
    """The message's answer from the first host that answers, or NoHost; and every host tried.

    `connections`: the worker's, one per host label; `paid`: the host whose rate-limit token
    the worker already took (tried first if it is still up); `ahead`: the message the worker
    sends next, sent ahead with this one's content (SmtpConnection.deliver) when there is
    one host (with several, the next one may go to another)."""
    several = len(hosts.hosts) > 1
    tried: list[HostTried] = []
    failures: list[tuple[SmartHost, DeliveryResult]] = []
    spent = 0.0
    # One host cooling down since this worker took the message: tried anyway, as ever.
    order = hosts.order(time.time(), first=paid) if several else hosts.hosts
    stopped = False
    for host in order:
        if host is not paid and host.limiter is not None and not host.limiter.acquire(stopping):
            stopped = True   # what was not sent waits in deferred/
            break
        result = connections[host.label].deliver(message, recipients, None if several else ahead)
        result.relay = host.label
        spent += result.duration
        if not result.host_unavailable:
            host.backoff.answered(time.time())
            tried.append(HostTried(host, True))
            result.duration = spent
            return result, tried
        pause = host.backoff.failed(time.time(), str(result.replies[0]))
        tried.append(HostTried(host, False, pause))
        if several:
            log.warning("smart host %s unavailable (%s): skipped for %.0fs", host.label,
                        result.replies[0], pause)
        else:
            log.warning("smart host unavailable (%s): pausing delivery for %.0fs",
                        result.replies[0], pause)
        failures.append((host, result))
    return _no_host(hosts, failures, stopped, spent, several), tried


def _no_host(hosts: SmartHosts, failures: list[tuple[SmartHost, DeliveryResult]], stopped: bool,
             spent: float, several: bool) -> NoHost:
    """Why no host could be used: the one host's own failure, or each host's."""
    if not several and failures:
        first = failures[0][1].replies[0]
        return NoHost(str(first), first.code, spent)
    if stopped:
        return NoHost("not sent: the relay is stopping", None, spent)
    if failures:
        named = [h for h, _ in failures]
        why = "no smart host could be used: " + "; ".join(
            [f"{h.label}: {r.replies[0]}" for h, r in failures]
            + [f"{h.label}: cooling down" for h in hosts.hosts if h not in named])
        return NoHost(why, failures[-1][1].replies[0].code, spent)
    return NoHost(f"not sent: every smart host is cooling down ({hosts.cooling(time.time())})", None, spent)
