"""Mail that came back to a return path (bounces+TOKEN@...): a bounce, a complaint, an
auto-reply, or none of these.

take_returned() reads the token (webapp.site.return_path: the member and the mail, whatever
the message says or leaves out), then the message, in this order:
  1. an ARF feedback report (webapp.inbound.feedback_reports): a complaint. The member stops
     getting that kind of bulk mail at once, as its one-click unsubscribe link would do it
     (webapp.mail.unsubscribe.turn_off): notifications and digests turn notifications off,
     a newsletter turns the newsletter off; account mail has nothing to stop;
  2. a bounce (webapp.inbound.delivery_reports: an RFC 3464 report, or a format flufl.bounce
     knows): the failure counts against the member's address by the one rule the feedback
     file follows too (webapp.mail.bounces.count_failure): a hard one marks it bouncing at
     once, others count towards [webapp] bounce_soft_limit; the reason is kept;
  3. an auto-reply (webapp.inbound.auto_replies): recorded, never counted, never answered.
Reports come first: a bounce comes from the null sender and often says Auto-Submitted, which
alone would make it an auto-reply. Anything else is DROPPED (badmail, with the reason).
Mail sent to an address the member has since left (the token's address hash is not that of
their address now) is recorded and changes nothing: the new address is not marked, and a
complaint from the old one's new owner stops nothing. Changes go into the current transaction;
the worker commits them with the file's record. Sends nothing, so nothing can loop.
"""

from __future__ import annotations

from datetime import date

from webapp.accounts.account_mail import RETURN_NUMBERS
from webapp.accounts.models import User
from webapp.inbound.auto_replies import why_automatic
from webapp.inbound.delivery_reports import ReportedFailure, read_failure
from webapp.inbound.feedback_reports import Complaint, read_complaint
from webapp.inbound.message import DropFile, Handled, Result
from webapp.mail.bounces import Failure, count_failure, is_hard
from webapp.mail.unsubscribe import NEWSLETTER_SETTING, NOTIFICATIONS_SETTING, turn_off
from webapp.site import return_path
from webapp.site.database import utcnow
from webapp.site.extensions import db
from webapp.site.return_path import ReturnKind, ReturnToken

# What a complaint about each kind of mail turns off (an unsubscribe link's kind); None: nothing.
STOPPED_BY_A_COMPLAINT = {ReturnKind.NOTIFICATION: NOTIFICATIONS_SETTING,
                          ReturnKind.DIGEST: NOTIFICATIONS_SETTING,
                          ReturnKind.NEWSLETTER: NEWSLETTER_SETTING,
                          ReturnKind.ACCOUNT: None}
_ACCOUNT_KINDS = {number: kind for kind, number in RETURN_NUMBERS.items()}


def take_returned(drop: DropFile, token: str, soft_limit: int) -> Result:
    """What the drop file sent to bounces+`token` is, with its effect on the member made."""
    said = return_path.read(token)
    if said is None:
        return Result(Handled.DROPPED, f"bounces+{token[:40]}: not a return path this site made "
                                       "(altered on the way, or signed with another key)")
    member = db.session.get(User, said.member_id)
    complaint = read_complaint(drop.message)
    if complaint is not None:
        return _complain(member, said, complaint)
    failure = read_failure(drop.message)
    if failure is not None:
        return _bounce(member, said, failure, soft_limit)
    why = why_automatic(drop.message, drop.sender)
    if why is not None:
        return Result(Handled.AUTO_REPLY, f"{why}, about {mail_words(said)}",
                      member.id if member else None)
    return Result(Handled.DROPPED, f"came back about {mail_words(said)} but is no delivery report, "
                                   "no feedback report and no auto-reply")


def mail_words(said: ReturnToken) -> str:
    """The mail a token names, in words an admin reads."""
    if said.kind == ReturnKind.DIGEST:
        return f"the digest of {date.fromordinal(said.mail_id)}"
    if said.kind == ReturnKind.ACCOUNT:
        return f"account mail ({_ACCOUNT_KINDS.get(said.mail_id, said.mail_id)})"
    return f"the {said.kind.name.lower()} of event {said.mail_id}"


def _sent_to_their_address(member: User, said: ReturnToken) -> bool:
    return said.address_hash == return_path.address_hash(member.email)


def _bounce(member: User | None, said: ReturnToken, failure: ReportedFailure,
            soft_limit: int) -> Result:
    named = f" ({failure.address})" if failure.address else ""
    about = f"about {mail_words(said)}{named}: {failure.reason}"
    if member is None:
        return Result(Handled.BOUNCE, f"member {said.member_id} is gone; {about}")
    if not _sent_to_their_address(member, said):
        return Result(Handled.BOUNCE, f"for an address the member has since left, {about}",
                      member.id)
    # A detector's permanent failure that says nothing more is taken at its word.
    unexplained = failure.status is None and failure.code is None
    hard = failure.permanent and (is_hard(failure.status, failure.code, failure.reason)
                                  or unexplained)
    marked = count_failure(member, Failure(hard, failure.reason, utcnow()), soft_limit)
    outcome = "address marked bouncing" if marked else \
        "already bouncing" if member.bouncing_at else f"soft failure {member.soft_bounces} of {soft_limit}"
    return Result(Handled.BOUNCE, f"{'hard' if hard else 'soft'} ({failure.format}), {about}; "
                                  f"{outcome}", member.id)


def _complain(member: User | None, said: ReturnToken, complaint: Complaint) -> Result:
    about = f"{complaint.words()} about {mail_words(said)}"
    if member is None:
        return Result(Handled.COMPLAINT, f"member {said.member_id} is gone; {about}")
    if not _sent_to_their_address(member, said):
        return Result(Handled.COMPLAINT, f"{about}, sent to an address the member has since left: "
                                         "nothing stopped", member.id)
    stopped = STOPPED_BY_A_COMPLAINT[said.kind]
    if stopped is None:
        return Result(Handled.COMPLAINT, f"{about}: account mail, nothing to stop", member.id)
    turn_off(member, stopped)
    return Result(Handled.COMPLAINT, f"{about}: {stopped} turned off", member.id)
