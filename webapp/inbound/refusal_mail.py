"""The mail that tells a member why their reply by mail was not posted: one a day at most.

tell_refused() writes it to the member's own address, never to the reply's sender (a forged
From gets nothing back: no backscatter), and only to a member mail may reach (activated,
not disabled, not bouncing). "One a day" is read from the inbound worker's records: when
an inbound_messages row with handled = reply_refused names the member in the last 24 hours,
this one goes unanswered (the first refusal of those was told). It answers the reply
(In-Reply-To, when the reply's Message-ID is a plain <id>) as RFC 3834 asks of an automatic
response: Auto-Submitted: auto-replied, and no one is to answer it. Written to pickup as
transactional mail (webapp.site.outgoing) from [webapp] mail_from; a pickup that refuses it
raises spooler.pickup.PickupError, and the caller posts and records nothing, so the worker
tries the file again.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from datetime import timedelta

from flask import has_request_context, render_template

from spooler.envelope import single_line
from spooler.message import Address, Notification, build
from webapp.accounts.models import User
from webapp.inbound.message import Handled
from webapp.inbound.models import InboundMessage
from webapp.posts.models import Article, Question
from webapp.site import outgoing
from webapp.site.database import utcnow
from webapp.site.extensions import db
from webapp.site.links import base_url, external_url, links_context

ONE_A_DAY = timedelta(hours=24)
_PLAIN_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,250}>")   # printable ASCII without < > or spaces


def told_recently(member_id: int) -> bool:
    """Whether a reply of the member's was refused in the last 24 hours (and they were told then)."""
    return db.session.execute(db.select(InboundMessage.id).where(
        InboundMessage.member_id == member_id, InboundMessage.handled == Handled.REPLY_REFUSED,
        InboundMessage.handled_at >= utcnow() - ONE_A_DAY).limit(1)).first() is not None


def may_be_told(member: User) -> bool:
    return member.is_activated and not member.is_disabled and member.bouncing_at is None


def tell_refused(member: User, why: str, thread: Question | Article | None,
                 reply_message_id: str | None) -> bool:
    """Write the explanation `why` about a reply to `thread` (None: gone) to the member, unless
    they may not be mailed or were told in the last 24 hours; whether it was written."""
    if not may_be_told(member) or told_recently(member.id):
        return False
    with nullcontext() if has_request_context() else links_context():
        outgoing.write_transactional(build(_explanation(member, why, thread, reply_message_id)))
    return True


def _thread_link(thread: Question | Article | None, member: User) -> str | None:
    """The page where the member may post instead, while there is one."""
    if thread is None or thread.is_deleted or not thread.visible_to(member):
        return None
    if isinstance(thread, Question):
        return external_url("questions.show", question_id=thread.id)
    return external_url("articles.show", article_id=thread.id)


def _explanation(member: User, why: str, thread: Question | Article | None,
                 reply_message_id: str | None) -> Notification:
    name, title = single_line(member.display_name), single_line(thread.title if thread else "")
    context = dict(name=name, why=why, title=title, link=_thread_link(thread, member), site_url=base_url())
    headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    replied = (reply_message_id or "").strip()
    if _PLAIN_MESSAGE_ID.fullmatch(replied):
        headers.update({"In-Reply-To": replied, "References": replied})
    return Notification(
        sender=outgoing.sender(),
        to=[Address(member.email, name)],
        subject=f"Your reply was not posted: {title}" if title else "Your reply was not posted",
        text=render_template("email/reply_refused.txt", **context),
        html=render_template("email/reply_refused.html", **context),
        message_id=outgoing.new_message_id(),
        extra_headers=headers,
        auto_submitted=False,   # set above as auto-replied: it answers a message (RFC 3834)
    )
