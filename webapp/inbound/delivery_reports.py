"""What a bounce says: the failed recipient, permanent or temporary, and the server's words.

read_failure() reads an RFC 3464 delivery report (multipart/report; report-type=delivery-status:
Postfix, Gmail, Exchange and Outlook, most MTAs today) with the stdlib email package: the first
recipient block whose Action is failed (else delayed), its Status, its Diagnostic-Code. Any
other shape goes to flufl.bounce's detectors (Exim's X-Failed-Recipients, qmail's QSBMF,
Yahoo's, and the older formats it knows), which say which recipients failed for good and which
for now; the reason is the first line of the text that carries an SMTP reply or an enhanced
status. Returns None for a message that reports no failure (then it is not a bounce). Pure:
reads only the message it is given; never raises for what a message holds.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage

from flufl.bounce import all_failures

# flufl.bounce says "Running detector" at INFO for each of its detectors: one bounce, 17 lines.
logging.getLogger("flufl.bounce").setLevel(logging.WARNING)

_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_CODE = re.compile(r"(?:^|[\s;:(#])([245]\d\d)(?=[\s\-.:]|$)")
_ADDRESS = re.compile(r"<?([^\s<>;]+@[^\s<>;]+?)>?$")
MAX_REASON = 300


@dataclass(frozen=True)
class ReportedFailure:
    """One failed delivery as a bounce reports it."""
    address: str | None     # the recipient that failed, when the report names one
    permanent: bool         # failed for good (Action: failed, a 5.x.x status) or only delayed
    status: str | None      # the enhanced status code, like "5.1.1"
    code: int | None        # the SMTP reply code, like 550
    reason: str             # what a person reads: the Diagnostic-Code, or the text's line
    format: str             # "RFC 3464" or "flufl.bounce" (which reader understood it)


def read_failure(message: EmailMessage) -> ReportedFailure | None:
    """The failure `message` reports, or None when it reports none."""
    if is_report(message, "delivery-status"):
        found = _from_delivery_status(message)
        if found is not None:
            return found
    return _from_detectors(message)


def is_report(message: EmailMessage, report_type: str) -> bool:
    """Whether `message` is a multipart/report of `report_type` (RFC 6522)."""
    return message.get_content_type() == "multipart/report" and \
        (message.get_param("report-type") or "").lower() == report_type


def _from_delivery_status(message: EmailMessage) -> ReportedFailure | None:
    blocks = [block for part in message.walk()
              if part.get_content_type() == "message/delivery-status"
              for block in part.get_payload() if isinstance(block, EmailMessage)]
    for wanted in ("failed", "delayed"):
        for block in blocks:
            if _raw(block, "Action").strip().lower().startswith(wanted):
                return _failure_of_block(block, wanted == "failed")
    return None


def _failure_of_block(block: EmailMessage, failed: bool) -> ReportedFailure:
    # The fields as written (RFC 3464 fields are plain text): the email package's parse of
    # each unstructured field was most of a bounce's time, and changes nothing here.
    fields = {}
    for name, value in block.raw_items():
        fields.setdefault(name.lower(), value)
    recipient = _one_line(fields.get("original-recipient") or fields.get("final-recipient") or "")
    address = _ADDRESS.search(recipient.rpartition(";")[2].strip())
    diagnostic = _one_line(fields.get("diagnostic-code") or "")
    text = diagnostic.partition(";")[2].strip() if ";" in diagnostic else diagnostic
    status = _STATUS.search(fields.get("status", "")) or _STATUS.search(text)
    code = _CODE.search(text)
    status_text = status.group(1) if status else None
    return ReportedFailure(
        address=address.group(1) if address else None,
        permanent=failed and not (status_text or "").startswith("4"),
        status=status_text,
        code=int(code.group(1)) if code else None,
        reason=(text or f"status {status_text or 'not given'}")[:MAX_REASON],
        format="RFC 3464")


def _from_detectors(message: EmailMessage) -> ReportedFailure | None:
    try:
        temporary, permanent = all_failures(message)
    except Exception:   # a detector tripped over an odd message: it reports nothing we can use
        return None
    failed = sorted(permanent) or sorted(temporary)
    if not failed:
        return None
    line = _reason_line(message)
    status, code = _STATUS.search(line), _CODE.search(line)
    address = failed[0].decode("ascii", "replace")
    return ReportedFailure(
        address=address, permanent=bool(permanent),
        status=status.group(1) if status else None, code=int(code.group(1)) if code else None,
        reason=line[:MAX_REASON] or f"delivery to {address} failed (no reason given)",
        format="flufl.bounce")


def _reason_line(message: EmailMessage) -> str:
    """The first line of the text parts that holds an SMTP reply or an enhanced status."""
    for part in message.walk():
        if part.get_content_type() != "text/plain":
            continue
        try:
            text = part.get_content()
        except (LookupError, ValueError):   # an unknown charset or a broken encoding
            continue
        for line in text.splitlines():
            if _STATUS.search(line) or re.search(r"^\s*[45]\d\d[\s\-:]", line):
                return _one_line(line)
    return ""


def _raw(block: EmailMessage, name: str) -> str:
    """A field's value as written, or "" (no parse: see _failure_of_block)."""
    wanted = name.lower()
    return next((value for key, value in block.raw_items() if key.lower() == wanted), "")


def _one_line(value) -> str:
    return " ".join(str(value).split())
