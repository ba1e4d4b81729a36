"""Delivery status notices: the RFC 3464 report a sender gets when its mail landed in badmail.

With [relay] delivery_reports = true, a message that goes to badmail after the
smart host refused recipients for good (all of them, or some while the others got
it) or that expired undelivered earns its envelope sender ONE report, made when
the message's fate is final: a multipart/report (RFC 6522) with a text part for a
person, a message/delivery-status part (Reporting-MTA, Arrival-Date, and per
recipient Final-Recipient, Action: failed, Status, Diagnostic-Code) and the
original's headers as text/rfc822-headers, never its body. It comes From
[relay] report_from (default MAILER-DAEMON@<hostname>), with Auto-Submitted:
auto-replied, and goes out from the null sender <>.
why_not() refuses a report, so none can ever answer a report: for the null sender,
a multipart/report, Auto-Submitted other than "no" (RFC 3834), Precedence
bulk/junk/list, and mail from report_from itself. Messages that never reached SMTP
(too big, malformed, unreadable) get none: their sender is not to be trusted.
Pure: a message and its fate in, bytes out; the daemon places them in pickup.
Trusts nothing in the original: every value written into a field is one line,
the sender must be a bare address, the headers travel encoded inside a part.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import SMTP, compat32
from email.utils import format_datetime, formataddr, make_msgid

from relay.delivery.fate import Fate
from relay.delivery.feedback import enhanced_status
from relay.queue.history import History, iso_time
from spooler.envelope import ParsedMessage, UnsafeHeaderError, check_address, single_line

SUBJECT = "Undelivered Mail Returned to Sender"   # Postfix's words: filters know them
REPORTER_NAME = "Mail Delivery System"
EXPIRED_STATUS = "4.4.7"       # RFC 3463: delivery time expired
HEADERS_LIMIT = 50_000         # bytes of the original's headers in a report (Postfix's bounce_size_limit)
_FIELD_LIMIT = 900             # characters of a reply in a field: a long reply still fits one line
_NO_REPORT_PRECEDENCE = {"bulk", "junk", "list"}
_FIELD_START = re.compile(rb"\r\n(?![ \t])")     # a header field ends where no continuation follows
_TOKEN_END = re.compile(r"[\s;(]")
# 7-bit parts (8-bit text is quoted-printable): a report goes through any smart host, 8BITMIME or not.
_POLICY = SMTP.clone(cte_type="7bit")


@dataclass(frozen=True)
class Failure:
    """One recipient a report is about."""
    recipient: str
    status: str     # RFC 3463 code: "5.1.1", or EXPIRED_STATUS
    reply: str      # the smart host's last reply for it, or why there was none
    at: float       # when it was refused, or when the message expired
    expired: bool = False


def hostname() -> str:
    return socket.gethostname() or "localhost"


def report_address(configured: str) -> str:
    """[relay] report_from, or MAILER-DAEMON@<this host's name> when it is empty."""
    return configured or f"MAILER-DAEMON@{hostname()}"


def why_not(message: ParsedMessage, report_from: str) -> str | None:
    """Why no report may be made for `message` (None: one may)."""
    if not message.sender:
        return "the sender is the null sender <>"
    if message.sender.lower() == report_from.lower():
        return "the sender is the relay's own report address"
    try:
        check_address(message.sender)
    except UnsafeHeaderError:
        return "the sender is not an address"
    headers = _headers(message.content)
    if headers.get_content_type() == "multipart/report":
        return "the message is itself a report (multipart/report)"
    for value in headers.get_all("Auto-Submitted", []):
        if _token(value) != "no":
            return f"the message is auto-submitted ({single_line(str(value))[:60]})"
    for value in headers.get_all("Precedence", []):
        if _token(value) in _NO_REPORT_PRECEDENCE:
            return f"the message is Precedence: {_token(value)}"
    return None


def failures(fate: Fate, history: History, last_replies: Mapping[str, str], now: float) -> list[Failure]:
    """Who a badmail fate failed: every recipient refused for good (history.refused, this
    attempt's included), and when the message expired everyone else still owed it."""
    found: dict[str, Failure] = {}
    for refusal in history.refused:
        status = enhanced_status(refusal.reply) or ""
        found[refusal.recipient] = Failure(refusal.recipient,
                                           status if status.startswith("5.") else "5.0.0",
                                           refusal.reply, refusal.at)
    if fate.reason.startswith("expired"):
        for rcpt in fate.recipients_left:
            if rcpt not in found:
                found[rcpt] = Failure(rcpt, EXPIRED_STATUS,
                                      last_replies.get(rcpt) or fate.reason, now, expired=True)
    return list(found.values())


def build_report(message: ParsedMessage, failed: list[Failure], *, queue_id: str,
                 arrived: float, report_from: str, now: float, reporting_mta: str = "",
                 remote_mta: str = "") -> bytes:
    """The report's wire bytes (CRLF, no envelope lines) to message.sender about `failed`.
    Raises UnsafeHeaderError when the sender is not a bare address (why_not says so first)."""
    mta = single_line(reporting_mta or hostname())
    to = check_address(message.sender, "the original sender")
    head = _original_head(message.content)
    report = EmailMessage(policy=_POLICY)
    report["From"] = formataddr((REPORTER_NAME, check_address(report_from, "report_from")))
    report["To"] = to
    report["Subject"] = SUBJECT
    report["Date"] = _date(now)
    report["Message-ID"] = make_msgid(domain=report_from.rpartition("@")[2])
    report["Auto-Submitted"] = "auto-replied"   # RFC 3834: a response made by a machine
    report["MIME-Version"] = "1.0"
    report["Content-Type"] = "multipart/report; report-type=delivery-status"

    text = EmailMessage(policy=_POLICY)
    text.set_content(_human_text(message, failed, head, queue_id, arrived, mta))
    text["Content-Description"] = "Notification"
    del text["MIME-Version"]   # set_content adds it to every part; the report's own is enough
    report.attach(text)

    status = EmailMessage(policy=_POLICY)
    status["Content-Type"] = "message/delivery-status"
    status["Content-Description"] = "Delivery report"
    status.set_payload([_fields({"Reporting-MTA": f"dns; {mta}",
                                 "X-Pickup-Relay-Queue-ID": queue_id,
                                 "Arrival-Date": _date(arrived)}),
                        *(_recipient_fields(f, remote_mta) for f in failed)])
    report.attach(status)

    headers = EmailMessage(policy=_POLICY)
    headers.set_content(head.text, subtype="rfc822-headers")
    headers["Content-Description"] = "Undelivered Message Headers"
    del headers["MIME-Version"]
    report.attach(headers)
    return report.as_bytes()


@dataclass(frozen=True)
class _Head:
    text: str        # the original's header fields, at most HEADERS_LIMIT bytes of them
    cut: bool        # some fields were left out
    subject: str
    message_id: str


def _original_head(content: bytes) -> _Head:
    raw = content.split(b"\r\n\r\n", 1)[0]
    kept, size, cut = [], 0, False
    for field in _FIELD_START.split(raw):
        if size + len(field) + 2 > HEADERS_LIMIT:
            cut = True
            break
        kept.append(field)
        size += len(field) + 2
    headers = _headers(content)
    return _Head(text="\r\n".join(f.decode("utf-8", "replace") for f in kept) + "\r\n", cut=cut,
                 subject=_decoded(headers.get("Subject", ""))[:200],
                 message_id=single_line(str(headers.get("Message-ID", "")))[:200])


def _headers(content: bytes):
    """The original's header fields as text (8-bit bytes read as UTF-8); compat32 parses
    nothing inside the values, so no hostile value can make it raise."""
    head = content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return HeaderParser(policy=compat32).parsestr(head + "\r\n\r\n")


def _decoded(value: object) -> str:
    """A header value with its RFC 2047 words decoded, on one line."""
    text = str(value)
    try:
        text = str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError):  # a broken or unknown encoded word: as written
        pass
    return single_line(text)


def _date(at: float) -> str:
    return format_datetime(datetime.fromtimestamp(at, UTC))


def _token(value: object) -> str:
    """The keyword a header value starts with ("auto-replied (vacation)" -> "auto-replied")."""
    return _TOKEN_END.split(str(value).strip(), maxsplit=1)[0].lower()


def _fields(values: dict[str, str]) -> EmailMessage:
    block = EmailMessage(policy=_POLICY)
    for name, value in values.items():
        block[name] = single_line(value)[:_FIELD_LIMIT]
    return block


def _recipient_fields(failure: Failure, remote_mta: str) -> EmailMessage:
    values = {"Final-Recipient": f"rfc822; {failure.recipient}", "Action": "failed",
              "Status": failure.status}
    if remote_mta:
        values["Remote-MTA"] = f"dns; {remote_mta}"
    if failure.reply[:3].isdigit():   # an SMTP reply; a timeout or refused connection is not one
        values["Diagnostic-Code"] = f"smtp; {failure.reply}"
    values["Last-Attempt-Date"] = _date(failure.at)
    return _fields(values)


def _human_text(message: ParsedMessage, failed: list[Failure], head: _Head, queue_id: str,
                arrived: float, mta: str) -> str:
    others = len(set(message.recipients) - {f.recipient for f in failed})
    lines = [f"This is the mail relay at {mta}.", "",
             f"Your message could not be delivered to {len(failed)} of its recipients"
             + (f"; the other {others} received it." if others else "."),
             "Its headers are attached below; its text is not.", "",
             f"  Subject: {head.subject or '(none)'}"]
    if head.message_id:
        lines.append(f"  Message-ID: {head.message_id}")
    lines += [f"  Received: {iso_time(arrived)} (queue id {queue_id})", ""]
    for f in failed:
        reply = single_line(f.reply)[:_FIELD_LIMIT]
        if f.expired:
            lines.append(f"<{single_line(f.recipient)}>: still undelivered when the relay stopped "
                         f"trying, {iso_time(f.at)}; last reply: {reply}")
        else:
            lines.append(f"<{single_line(f.recipient)}>: refused by the mail server, "
                         f"{iso_time(f.at)}: {reply}")
    if head.cut:
        lines += ["", f"(Only the first {HEADERS_LIMIT:,} bytes of the headers are attached.)"]
    return "\n".join(lines) + "\n"
