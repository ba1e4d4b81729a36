"""Auto-replies: out-of-office notes and other machine mail that must never count as a bounce,
be posted as a reply, or be answered (RFC 3834; the headers mail programs use in practice).

why_automatic() says why a message is automatic, or None for one a person sent. A message the
site sends is never addressed to a null sender or to a message this says is automatic, so no
loop can start.
"""

from __future__ import annotations

from email.message import EmailMessage

_AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk", "list"}
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond")
_AUTO_SUBJECT_STARTS = ("auto:", "automatic reply", "autoreply", "out of office", "abwesenheit")


def why_automatic(message: EmailMessage, envelope_sender: str) -> str | None:
    """Why `message` is machine mail, or None when a person sent it."""
    if not envelope_sender:
        return "sent from the null sender"
    submitted = (message.get("Auto-Submitted") or "").strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = (message.get("Precedence") or "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in _AUTO_HEADERS:
        if message.get(name) is not None:
            return f"{name} header"
    subject = (message.get("Subject") or "").strip().lower()
    if subject.startswith(_AUTO_SUBJECT_STARTS):
        return f"subject {subject[:60]!r}"
    return None
