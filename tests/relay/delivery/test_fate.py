"""relay.fate.decide, the one place that decides a message's fate: a table of every reply class,
partial results, timeouts at each step, an unreachable host and expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.delivery.fate import GONE, decide, unsendable
from relay.queue.folders import BADMAIL, DEFERRED, Attempt, History, Refusal
from relay.smtp.client import DeliveryResult, RecipientReply
from settings import parse_config

NOW = 1_800_000_000.0
RELAY = parse_config({"relay": {"retry_schedule": ["1m", "5m", "1h"], "max_lifetime": "2d"}},
                     base_dir=Path("."), source=None).relay


def result(*replies: tuple[str, int | None, str], host_unavailable: bool = False) -> DeliveryResult:
    return DeliveryResult([RecipientReply(r, code, text) for r, code, text in replies],
                          host_unavailable=host_unavailable)


def history(age: float = 60.0, attempts: int = 0, refused: tuple[str, ...] = (),
            uncharged: int = 0) -> History:
    return History(NOW - age, attempts=[Attempt(NOW - age, 451, "451 later", ["a@x.test"])] * attempts
                   + [Attempt(NOW - age, None, "refused", ["a@x.test"], charged=False)] * uncharged,
                   refused=[Refusal(r, "550 5.1.1 gone", NOW - 30) for r in refused])


OK = ("a@x.test", 250, "2.0.0 Ok")
LATER = ("b@x.test", 451, "4.7.1 Greylisted")
GONE_USER = ("c@x.test", 550, "5.1.1 No such user")
CASES = {
    # name: (result, history, destination, recipients_left, refused now, retry step or None)
    "250 for all: delivered": (result(OK), history(), GONE, (), (), None),
    "451 for all: first retry step": (result(LATER), history(), DEFERRED, ("b@x.test",), (), 60),
    "421 after DATA: retried": (result(("b@x.test", 421, "4.3.2 shutting down")), history(),
                                DEFERRED, ("b@x.test",), (), 60),
    "452 too many recipients: retried": (result(("b@x.test", 452, "4.5.3 Too many")), history(),
                                         DEFERRED, ("b@x.test",), (), 60),
    "550 for all: badmail": (result(GONE_USER), history(), BADMAIL, ("c@x.test",), ("c@x.test",), None),
    "552 on DATA: badmail": (result(("c@x.test", 552, "5.3.4 too big")), history(), BADMAIL,
                             ("c@x.test",), ("c@x.test",), None),
    "250 + 550: badmail keeps the refusal": (result(OK, GONE_USER), history(), BADMAIL,
                                             ("c@x.test",), ("c@x.test",), None),
    "250 + 451: the 451 one retried alone": (result(OK, LATER), history(), DEFERRED,
                                             ("b@x.test",), (), 60),
    "451 + 550: retried, the refusal recorded": (result(LATER, GONE_USER), history(), DEFERRED,
                                                 ("b@x.test",), ("c@x.test",), 60),
    "250 after an earlier 550: badmail": (result(OK), history(attempts=1, refused=("c@x.test",)),
                                          BADMAIL, ("c@x.test",), (), None),
    "third charged attempt: third step": (result(LATER), history(attempts=2), DEFERRED,
                                          ("b@x.test",), (), 3600),
    "past the schedule: the last step repeats": (result(LATER), history(attempts=7), DEFERRED,
                                                 ("b@x.test",), (), 3600),
    "unreachable attempts are not counted": (result(LATER), history(attempts=1, uncharged=5),
                                             DEFERRED, ("b@x.test",), (), 300),
    "timeout on connect: due again, uncharged": (
        result(("b@x.test", None, "timed out talking to host:25"), host_unavailable=True),
        history(attempts=1), DEFERRED, ("b@x.test",), (), 0),
    "connection refused: due again, uncharged": (
        result(("b@x.test", None, "connection to host:25 refused"), host_unavailable=True),
        history(), DEFERRED, ("b@x.test",), (), 0),
    "timeout on MAIL or RCPT: retried": (
        result(("b@x.test", None, "timed out waiting for the reply to RCPT TO")), history(),
        DEFERRED, ("b@x.test",), (), 60),
    "timeout after the final dot: retried": (
        result(("b@x.test", None, "timed out after the final dot: may have been delivered")),
        history(), DEFERRED, ("b@x.test",), (), 60),
    "expired while deferred: badmail with all still owed": (
        result(LATER), history(age=3 * 86400, attempts=9, refused=("c@x.test",)), BADMAIL,
        ("b@x.test", "c@x.test"), (), None),
    "expired while the host is down: badmail": (
        result(("b@x.test", None, "connection refused"), host_unavailable=True),
        history(age=3 * 86400), BADMAIL, ("b@x.test",), (), None),
}


@pytest.mark.parametrize("name", CASES)
def test_decide(name):
    outcome, past, destination, left, refused_now, step = CASES[name]
    fate = decide(outcome, past, NOW, RELAY)
    assert (fate.destination, fate.recipients_left) == (destination, left)
    assert tuple(r.recipient for r in fate.refused) == refused_now
    assert all(r.at == NOW for r in fate.refused)
    assert fate.charged == (not outcome.host_unavailable)
    if step is None:
        assert fate.next_attempt is None
    else:
        assert step * 0.9 <= fate.next_attempt - NOW <= step * 1.1
    if destination == BADMAIL:
        assert fate.reason


def test_a_partial_refusal_says_who_was_refused_and_that_the_others_got_it():
    fate = decide(result(OK, GONE_USER), history(), NOW, RELAY)
    assert fate.reason == ("refused by the smart host for 1 recipient; delivered to the other 1: "
                           "<c@x.test>: 550 5.1.1 No such user")


def test_expiry_counts_from_the_first_claim_and_names_the_attempts():
    fate = decide(result(LATER), history(age=2 * 86400 + 1, attempts=4), NOW, RELAY)
    assert fate.reason.startswith("expired: still undelivered after [relay] max_lifetime (2.0d in the queue")
    assert "5 attempts" in fate.reason and "451 4.7.1 Greylisted" in fate.reason


def test_an_unsendable_message_goes_to_badmail_untried():
    fate = unsendable("not a message that can be sent: empty file", ("a@x.test",))
    assert (fate.destination, fate.recipients_left, fate.charged) == (BADMAIL, ("a@x.test",), False)
