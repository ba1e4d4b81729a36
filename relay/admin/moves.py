"""What an admin can do to the queue: the moves behind `relay retry|hold|release|delete|
requeue-badmail` and the dashboard's buttons, one implementation for every front end.

select() names the messages an `--all` with filters means; apply_move() runs one of
MOVES on each id, returns a result per id and wakes the relays when the move made mail
due. Uses the queue's lock-then-rename moves, so it is safe beside running relays. The
moves' names, what each makes of a message and where it looks (channel.moves.MoveName)
and the result type are the dashboard's format too: they live in channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from channel.moves import MoveName, MoveResult
from relay.admin.listing import message_rows
from relay.queue.admin_moves import AdminError, admin_move, delete, requeue_badmail
from relay.queue.folders import ACTIVE, DEFERRED, HOLD, Queue
from relay.queue.pids import wake_relays


@dataclass(frozen=True)
class Move:
    name: MoveName
    run: Callable[[Queue, str], str | None]   # returns a new id when the move gives one
    wakes: bool                               # makes mail due: tell the relays to look now

    @property
    def done(self) -> str:
        """What a moved message is, for reports ("held")."""
        return self.name.done

    @property
    def folder(self) -> str:
        """Where "all of them" are looked for."""
        return self.name.folder


MOVES = {move.name: move for move in (
    Move(MoveName.RETRY, lambda q, i: admin_move(q, i, (DEFERRED,), DEFERRED, due_now=True), True),
    Move(MoveName.HOLD, lambda q, i: admin_move(q, i, (DEFERRED, ACTIVE), HOLD), False),
    Move(MoveName.RELEASE, lambda q, i: admin_move(q, i, (HOLD,), DEFERRED, due_now=True), True),
    Move(MoveName.DELETE, lambda q, i: delete(q, i), False),
    Move(MoveName.REQUEUE_BADMAIL, lambda q, i: requeue_badmail(q, i), True),
)}


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
