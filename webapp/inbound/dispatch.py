"""Which handler a drop file goes to, by the address it came to (its envelope recipient).

  <bounce_address local part>+TOKEN@<its domain>  bounces, complaints, auto-replies
                                                  (webapp.inbound.returned_mail)
  <reply_address local part>+TOKEN@<its domain>   members' replies (webapp.inbound.replies)
  [webapp] bounce_address itself                  a feedback loop's report sent to the address
                                                  registered with it: the token is read from
                                                  the report's Original-Mail-From
  anything else                                   DROPPED: "not for a known address"
Local parts and domains compare in any case (some MTAs change it; the token survives that).
Reads [webapp] bounce_address, reply_address and bounce_soft_limit.
"""

from __future__ import annotations

from settings import WebappConfig
from webapp.inbound import replies
from webapp.inbound.feedback_reports import read_complaint
from webapp.inbound.message import DropFile, Handled, Result
from webapp.inbound.returned_mail import take_returned
from webapp.site import return_path


def take(drop: DropFile, webapp: WebappConfig) -> Result:
    """What the drop file is, handled by the handler its address names (changes in the
    current transaction, for the worker to commit with the file's record)."""
    for recipient in drop.recipients:
        token = token_for(recipient, webapp.bounce_address)
        if token is None and _same_address(recipient, webapp.bounce_address):
            complaint = read_complaint(drop.message)
            token = token_for(complaint.original_mail_from, webapp.bounce_address) if complaint else None
        if token:
            return take_returned(drop, token, webapp.bounce_soft_limit)
        token = token_for(recipient, webapp.reply_address)
        if token:
            return replies.take_reply(drop, token)
    return Result(Handled.DROPPED, f"not for a known address: {', '.join(drop.recipients)[:300]}")


def members_named(recipients: list[str], webapp: WebappConfig) -> set[int]:
    """The ids of the members whose return paths are among `recipients` (for reading them
    all in one query before a batch)."""
    ids = set()
    for recipient in recipients:
        token = token_for(recipient, webapp.bounce_address)
        if token and (said := return_path.read(token)) is not None:
            ids.add(said.member_id)
    return ids


def token_for(recipient: str, base_address: str) -> str | None:
    """TOKEN when `recipient` is LOCAL+TOKEN@DOMAIN of `base_address` LOCAL@DOMAIN, else None."""
    if not base_address:
        return None
    local, _at, domain = recipient.strip().rpartition("@")
    base_local, _at, base_domain = base_address.rpartition("@")
    prefix = f"{base_local}+".lower()
    if domain.lower() != base_domain.lower() or not local.lower().startswith(prefix):
        return None
    return local[len(prefix):] or None


def _same_address(recipient: str, address: str) -> bool:
    return bool(address) and recipient.strip().lower() == address.lower()
