"""relay.delivery.fate.decide, the one place that decides a message's fate: a table of every reply
class, partial results, timeouts at each step, an unreachable host, a signing failure, expiry, and
the ways out that are no attempt (still being written, given back, unsendable)."""

from __future__ import annotations

import pytest

from relay.delivery.fate import GONE, UNTRIED, BadmailClass, NotSent, RetryPolicy, Unsendable, Untried, decide
from relay.delivery.retry import RetrySchedule
from relay.queue.folders import BADMAIL, DEFERRED
from relay.queue.history import Attempt, History, Refusal
from relay.smtp.failover import NoHost
from relay.smtp.replies import DeliveryResult, RecipientReply

NOW = 1_800_000_000.0
POLICY = RetryPolicy(RetrySchedule((60.0, 300.0, 3600.0)), max_lifetime=2 * 86400.0)   # 1m, 5m, 1h; 2d


def result(*replies: tuple[str, int | None, str]) -> DeliveryResult:
    return DeliveryResult([RecipientReply(r, code, text) for r, code, text in replies])


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
        NoHost("timed out talking to host:25"), history(attempts=1), DEFERRED, ("b@x.test",), (), 0),
    "connection refused: due again, uncharged": (
        NoHost("connection to host:25 refused"), history(), DEFERRED, ("b@x.test",), (), 0),
    "421 greeting from every host: due again, uncharged": (
        NoHost("no smart host could be used: a:25: 421 busy; b:25: cooling down", 421), history(),
        DEFERRED, ("b@x.test",), (), 0),
    "signing failed: a charged retry, nothing sent": (
        NotSent("not sent: no key for the From domain"), history(), DEFERRED, ("b@x.test",), (), 60),
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
        NoHost("connection refused"), history(age=3 * 86400), BADMAIL, ("b@x.test",), (), None),
}


@pytest.mark.parametrize("name", CASES)
def test_decide(name):
    outcome, past, destination, left, refused_now, step = CASES[name]
    fate = decide(outcome, past, NOW, POLICY, recipients(outcome))
    assert (fate.destination, fate.recipients_left) == (destination, left)
    assert tuple(r.recipient for r in fate.refused) == refused_now
    assert all(r.at == NOW for r in fate.refused)
    assert fate.charged == (not isinstance(outcome, NoHost))
    assert fate.attempt is not None and fate.attempt.at == NOW and fate.attempt.charged == fate.charged
    if step is None:
        assert fate.next_attempt is None
    else:
        assert step * 0.9 <= fate.next_attempt - NOW <= step * 1.1
    if destination == BADMAIL:
        assert fate.reason


def test_a_partial_refusal_says_who_was_refused_and_that_the_others_got_it():
    fate = decide(result(OK, GONE_USER), history(), NOW, POLICY)
    assert fate.reason == ("refused by the smart host for 1 recipient; delivered to the other 1: "
                           "<c@x.test>: 550 5.1.1 No such user")


def test_expiry_counts_from_the_first_claim_and_names_the_attempts():
    fate = decide(result(LATER), history(age=2 * 86400 + 1, attempts=4), NOW, POLICY)
    assert fate.reason.startswith("expired: still undelivered after [relay] max_lifetime (2.0d in the queue")
    assert "5 attempts" in fate.reason and "451 4.7.1 Greylisted" in fate.reason


def test_an_unsendable_message_goes_to_badmail_untried():
    fate = decide(Unsendable("not a message that can be sent: empty file", BadmailClass.MALFORMED),
                  history(), NOW, POLICY, ("a@x.test",))
    assert (fate.destination, fate.recipients_left, fate.charged) == (BADMAIL, ("a@x.test",), False)
    assert fate.attempt is None and fate.badmail_class is BadmailClass.MALFORMED


def test_a_message_given_back_untried_records_no_attempt_and_is_due_after_its_delay():
    fate = decide(Untried("still being written", 2.0), history(attempts=3), NOW, POLICY)
    assert (fate.destination, fate.next_attempt) == (UNTRIED, NOW + 2.0)
    assert fate.attempt is None and not fate.charged


def test_every_badmail_fate_names_its_class_for_the_metrics():
    assert decide(result(GONE_USER), history(), NOW, POLICY).badmail_class is BadmailClass.REFUSED
    expired = decide(result(LATER), history(age=3 * 86400), NOW, POLICY)
    assert expired.badmail_class is BadmailClass.EXPIRED


def recipients(outcome) -> tuple[str, ...]:
    if isinstance(outcome, DeliveryResult):
        return tuple(r.recipient for r in outcome.replies)
    return ("b@x.test",)
