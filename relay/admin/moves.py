"""What an admin can do to the queue: the moves behind `relay retry|hold|release|delete|
requeue-badmail` and the dashboard's buttons, one implementation for every front end.

select() names the messages an `--all` with filters means; apply_move() runs one of
MOVES on each id, returns a result per id and wakes the relays when the move made mail
due. Uses the queue's lock-then-rename moves, so it is safe beside running relays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from relay.admin.listing import message_rows
from relay.daemon.pidfile import wake_relays
from relay.queue.admin_moves import AdminError, admin_move, delete, requeue_badmail
from relay.queue.folders import ACTIVE, BADMAIL, DEFERRED, HOLD, Queue


@dataclass(frozen=True)
class Move:
    done: str                                 # what a moved message is, for reports ("held")
    folder: str                               # where "all of them" are looked for
    run: Callable[[Queue, str], str | None]   # returns a new id when the move gives one
    wakes: bool                               # makes mail due: tell the relays to look now


MOVES = {
    "retry": Move("due now", DEFERRED,
                  lambda q, i: admin_move(q, i, (DEFERRED,), DEFERRED, due_now=True), True),
    "hold": Move("held", DEFERRED, lambda q, i: admin_move(q, i, (DEFERRED, ACTIVE), HOLD), False),
    "release": Move("released", HOLD,
                    lambda q, i: admin_move(q, i, (HOLD,), DEFERRED, due_now=True), True),
    "delete": Move("deleted", DEFERRED, lambda q, i: delete(q, i), False),
    "requeue-badmail": Move("requeued", BADMAIL, lambda q, i: requeue_badmail(q, i), True),
}


@dataclass(frozen=True)
class MoveResult:
    id: str
    ok: bool
    new_id: str | None = None   # requeue-badmail gives the message a new id
    error: str = ""


def select(queue: Queue, folder: str, *, sender: str | None = None, recipient: str | None = None,
           older_than: float | None = None) -> list[str]:
    """The ids of every message in folder that the filters match, oldest first."""
    return [r.id for r in message_rows(queue, (folder,), sender=sender, recipient=recipient,
                                       older_than=older_than)]


def apply_move(queue: Queue, move: str, ids: list[str] | tuple[str, ...]) -> list[MoveResult]:
    """Run MOVES[move] on each id; one result each. Wakes the relays when mail became due."""
    action = MOVES[move]
    results = []
    for queue_id in ids:
        try:
            results.append(MoveResult(queue_id, True, action.run(queue, queue_id)))
        except AdminError as e:
            results.append(MoveResult(queue_id, False, error=str(e)))
    if action.wakes:
        wake_relays(queue.root)
    return results
