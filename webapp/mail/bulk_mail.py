"""What every bulk mail of the site carries, and the stamp many recipients' copies are made with.

bulk_headers(): the List-Id of a list ("notifications": notification mail and the digest,
one filter catches them all; "newsletter"), a one-click List-Unsubscribe (RFC 8058) and
Precedence: bulk (spooler.message adds Auto-Submitted). StampedMail: one mail rendered
once (spooler.stamp) and stamped per recipient with To, the Message-ID of the delivery key
(event, member), the member's signed unsubscribe link and their name, with [webapp]
bounce_address set the envelope sender that names them (webapp.site.return_path), and, for a
notification of an answer or a comment while replies by mail are on, their own Reply-To
(webapp.mail.reply_addresses).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Row

from spooler.envelope import envelope_lines, single_line
from spooler.message import Address
from spooler.stamp import Stamp
from webapp.accounts.models import User
from webapp.mail.reply_addresses import ReplyAddresses
from webapp.mail.unsubscribe import UnsubscribeLinks
from webapp.site.return_path import ReturnPaths

STAMPED_HEADERS = ("List-Unsubscribe",)      # the header lines each recipient gets their own of
REPLY_TO = "Reply-To"                        # one more of them when the mail takes replies
STAMP_RECIPIENT = Address("recipient@stamp.invalid")   # the To of the mail before it is stamped


def bulk_headers(sender: Address, domain: str, list_name: str, unsubscribe_link: str) -> dict:
    return {
        "List-Id": f"{single_line(sender.name) or domain} {list_name} <{list_name}.{domain}>",
        "List-Unsubscribe": f"<{unsubscribe_link}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Precedence": "bulk",
    }


def delivery_message_id(event_id: int, user_id: int, domain: str) -> str:
    """The Message-ID of the delivery key (event, member): the same however often it is made."""
    return f"n{event_id}.{user_id}@{domain}"


@dataclass
class StampedMail:
    """One event's mail, ready to stamp; `links` make each member's unsubscribe link,
    `return_paths` (None: off) each member's envelope sender, and `replies` (when the mail
    takes replies) their Reply-To."""
    stamp: Stamp
    domain: str
    links: UnsubscribeLinks
    return_paths: ReturnPaths | None = None
    replies: ReplyAddresses | None = None

    def for_member(self, event_id: int, member: User | Row) -> bytes:
        """The pickup file's bytes (envelope lines, then the message) for one member (a User, or
        a row with its id, email and display_name)."""
        link = self.links.link(member.id)
        headers = {"List-Unsubscribe": f"<{link}>"}
        if self.replies is not None:
            headers[REPLY_TO] = self.replies.address(member.id)
        message = self.stamp.message(
            Address(member.email, single_line(member.display_name)),
            delivery_message_id(event_id, member.id, self.domain),
            headers=headers,
            values={"name": member.display_name, "unsubscribe": link})
        sender = message.sender if self.return_paths is None else \
            self.return_paths.for_member(member.id, member.email)
        return envelope_lines(sender, message.recipients) + message.content
