"""Members' replies to notifications, sent to reply+TOKEN@ [webapp] reply_address's domain.

Not taken yet: every reply is kept in the drop folder's badmail with the reason.
"""

from __future__ import annotations

from webapp.inbound.message import DropFile, Handled, Result


def take_reply(drop: DropFile, token: str) -> Result:
    return Result(Handled.DROPPED, "replies are not taken")
