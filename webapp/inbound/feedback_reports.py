"""What a complaint says: an ARF feedback report (RFC 5965) read with the stdlib email package.

A mailbox provider's feedback loop sends, when a member presses "this is spam", a
multipart/report; report-type=feedback-report whose message/feedback-report part holds
Feedback-Type (abuse, fraud, virus, other...), User-Agent, Original-Mail-From and
Original-Rcpt-To, followed by the original message or its headers. read_complaint() returns
those, or None for a message that is not such a report. Pure; never raises for what a
message holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from webapp.inbound.delivery_reports import is_report

NOT_COMPLAINTS = {"not-spam"}   # RFC 6650: a report that a message is wanted is no complaint


@dataclass(frozen=True)
class Complaint:
    feedback_type: str          # "abuse", "fraud", ...
    user_agent: str             # who made the report
    original_mail_from: str     # the return path of the mail complained about, when given
    original_rcpt_to: str

    def words(self) -> str:
        by = f" from {self.user_agent}" if self.user_agent else ""
        return f"feedback report ({self.feedback_type}){by}"


def read_complaint(message: EmailMessage) -> Complaint | None:
    """The complaint `message` makes, or None when it is not an ARF report of one."""
    if not is_report(message, "feedback-report"):
        return None
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        fields = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(fields, EmailMessage):
            return None
        kind = _field(fields, "Feedback-Type").lower() or "abuse"
        if kind in NOT_COMPLAINTS:
            return None
        return Complaint(kind, _field(fields, "User-Agent"),
                         _field(fields, "Original-Mail-From").strip("<>"),
                         _field(fields, "Original-Rcpt-To").strip("<>"))
    return None


def _field(fields: EmailMessage, name: str) -> str:
    return " ".join(str(fields.get(name, "")).split())[:200]
