"""Bounces, complaints and auto-replies as mail servers send them, made from their documented
shapes around the original message they return, and written into a drop folder as `relay
receive` writes them (the SMTP envelope as X-Sender / X-Receiver lines, then the message).

The shapes: Postfix's bounce(8) notice and Gmail's and Exchange's non-delivery reports are RFC
3464 multipart/report messages with a message/delivery-status part; Exim's is plain text with
X-Failed-Recipients; qmail's is QSBMF ("Hi. This is the qmail-send program"); Yahoo's is its own
plain text from MAILER-DAEMON@yahoo.com; the complaint is an RFC 5965 ARF report.
"""

from __future__ import annotations

import os
from pathlib import Path

BOUNDARY = "=_report_8c1f0e"
DATE = "Sun, 06 Dec 2026 10:15:02 +0000"


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def headers_of(original: bytes) -> str:
    return original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")


def _report(head: str, report_type: str, parts: list[tuple[str, str]]) -> bytes:
    body = "".join(f"--{BOUNDARY}\n{part_head}\n\n{content}\n" for part_head, content in parts)
    return crlf(f"{head}\nMIME-Version: 1.0\nContent-Type: multipart/report; "
                f"report-type={report_type};\n\tboundary=\"{BOUNDARY}\"\n\n"
                f"This is a MIME-encapsulated message.\n\n{body}--{BOUNDARY}--\n")


def postfix(original: bytes, address: str, status: str = "5.1.1", action: str = "failed",
            diagnostic: str | None = None, original_recipient: str | None = None) -> bytes:
    diagnostic = diagnostic or (f"smtp; 550 {status} <{address}>: Recipient address rejected: "
                                "User unknown in local recipient table")
    original_line = f"Original-Recipient: rfc822;{original_recipient}\n" if original_recipient else ""
    return _report(
        f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
        f"Subject: Undelivered Mail Returned to Sender\nTo: bounces@bounce.example.test\n"
        f"Auto-Submitted: auto-replied\nDate: {DATE}\nMessage-Id: <20261206101502.4F2A1C0@mx.example.net>",
        "delivery-status", [
            ("Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii",
             "This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you "
             "that your message could not\nbe delivered to one or more recipients. It's attached "
             "below.\n\n                   The mail system\n\n"
             f"<{address}>: host mx.example.net[192.0.2.25] said: {diagnostic[6:]}"),
            ("Content-Description: Delivery report\nContent-Type: message/delivery-status",
             "Reporting-MTA: dns; mx.example.net\nX-Postfix-Queue-ID: 4F2A1C0\n"
             f"Arrival-Date: {DATE}\n\nFinal-Recipient: rfc822; {address}\n{original_line}"
             f"Action: {action}\nStatus: {status}\nRemote-MTA: dns; mx.example.net\n"
             f"Diagnostic-Code: {diagnostic}"),
            ("Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers",
             headers_of(original)),
        ])


def gmail(original: bytes, address: str) -> bytes:
    return _report(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "To: bounces@bounce.example.test\nAuto-Submitted: auto-replied\n"
        f"Subject: Delivery Status Notification (Failure)\nDate: {DATE}\n"
        "Message-ID: <6750c1a2.050a0220.3a1b2c.0001.GMR@mx.google.com>",
        "delivery-status", [
            ("Content-Type: text/plain; charset=\"UTF-8\"",
             f"** Address not found **\n\nYour message wasn't delivered to {address} because the "
             "address couldn't be found, or is unable to receive mail.\n\nLearn more here: "
             "https://support.google.com/mail/?p=NoSuchUser\n\nThe response was:\n\n550 5.1.1 "
             "The email account that you tried to reach does not exist."),
            ("Content-Type: message/delivery-status",
             "Reporting-MTA: dns; googlemail.com\nReceived-From-MTA: dns; relay.example.test\n"
             f"Arrival-Date: {DATE}\n\nFinal-Recipient: rfc822; {address}\nAction: failed\n"
             "Status: 5.1.1\nRemote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.27.26, the server\n"
             " for the domain example.org.)\nDiagnostic-Code: smtp; 550-5.1.1 The email account that "
             "you tried to reach does not exist. Please try\n 550-5.1.1 double-checking the "
             "recipient's email address for typos or\n 550 5.1.1 unnecessary spaces. "
             "https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp\n"
             f"Last-Attempt-Date: {DATE}"),
            ("Content-Type: message/rfc822", original.decode("utf-8", "replace")),
        ])


def exchange(original: bytes, address: str) -> bytes:
    return _report(
        "From: Microsoft Outlook <postmaster@example.org>\nTo: bounces@bounce.example.test\n"
        f"Subject: Undeliverable: New answer\nDate: {DATE}\nContent-Language: en-US\n"
        "X-MS-Exchange-Message-Is-Ndr:\nX-MS-PublicTrafficType: Email\n"
        "Message-ID: <9f2c1e0a-1b3d-4c5e-8f7a-0b1c2d3e4f50@EXCH01.example.org>",
        "delivery-status", [
            ("Content-Type: text/plain; charset=\"us-ascii\"",
             "Delivery has failed to these recipients or groups:\n\n"
             f"{address}\nThe email address you entered couldn't be found. Please check the "
             "recipient's email address and try to resend the message.\n\n"
             "Diagnostic information for administrators:\n\nGenerating server: EXCH01.example.org"
             f"\n\n{address}\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
             "Recipient not found by SMTP address lookup'"),
            ("Content-Type: message/delivery-status",
             "Reporting-MTA: dns;EXCH01.example.org\nReceived-From-MTA: dns;relay.example.test\n"
             f"Arrival-Date: {DATE}\n\nFinal-Recipient: rfc822;{address}\nAction: failed\n"
             "Status: 5.1.10\nDiagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
             "Recipient not found by SMTP address lookup\nX-Display-Name: Ann"),
            ("Content-Type: message/rfc822", original.decode("utf-8", "replace")),
        ])


def exim(original: bytes, address: str) -> bytes:
    return crlf(
        "From: Mail Delivery System <Mailer-Daemon@mx.example.com>\n"
        "To: bounces@bounce.example.test\nSubject: Mail delivery failed: returning message to sender\n"
        f"Message-Id: <E1tJb7q-0003Xy-2K@mx.example.com>\nX-Failed-Recipients: {address}\n"
        f"Auto-Submitted: auto-replied\nDate: {DATE}\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        f"  {address}\n    host mx.example.org [192.0.2.30]\n"
        f"    SMTP error from remote mail server after RCPT TO:<{address}>:\n"
        "    550 5.1.1 User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
    ) + original


def qmail(original: bytes, address: str) -> bytes:
    return crlf(
        f"From: MAILER-DAEMON@mx.example.com\nTo: bounces@bounce.example.test\nDate: {DATE}\n"
        "Subject: failure notice\n\n"
        "Hi. This is the qmail-send program at mx.example.com.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{address}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
    ) + original


def yahoo(original: bytes, address: str) -> bytes:
    return crlf(
        f"From: MAILER-DAEMON@yahoo.com\nTo: bounces@bounce.example.test\nDate: {DATE}\n"
        "Subject: Failure Notice\nX-Yahoo-Newman-Property: ymail-3\n\n"
        "Sorry, we were unable to deliver your message to the following address.\n\n"
        f"<{address}>:\n554: delivery error: dd This user doesn't have a yahoo.com account "
        f"({address}) [0] - mta1234.mail.gq1.yahoo.com\n\n"
        "--- Below this line is a copy of the message.\n\n"
    ) + original


def arf(original: bytes, return_path: str, address: str, feedback_type: str = "abuse") -> bytes:
    return _report(
        "From: <feedback@arf.mail.example.net>\nTo: <bounces@bounce.example.test>\n"
        f"Subject: FW: complaint about a message from the site\nDate: {DATE}\n"
        "Message-ID: <fbl.20261206.1@arf.mail.example.net>",
        "feedback-report", [
            ("Content-Type: text/plain; charset=\"US-ASCII\"\nContent-Transfer-Encoding: 7bit",
             "This is an email abuse report for an email message received from IP\n192.0.2.10 on "
             f"{DATE}. For more information about this format please see\n"
             "http://www.mipassoc.org/arf/."),
            ("Content-Type: message/feedback-report",
             f"Feedback-Type: {feedback_type}\nUser-Agent: ExampleFBL/1.0\nVersion: 1\n"
             f"Original-Mail-From: <{return_path}>\nOriginal-Rcpt-To: <{address}>\n"
             f"Arrival-Date: {DATE}\nReported-Domain: qa.example.test\nSource-IP: 192.0.2.10"),
            ("Content-Type: message/rfc822\nContent-Disposition: inline",
             original.decode("utf-8", "replace")),
        ])


def out_of_office(address: str, marker: str = "Auto-Submitted: auto-replied") -> bytes:
    return crlf(f"From: Ann <{address}>\nTo: bounces@bounce.example.test\nDate: {DATE}\n"
                f"Subject: Re: New answer\n{marker}\nMessage-ID: <ooo.1@example.org>\n\n"
                "I am away until Monday and will read your mail when I am back.\n")


def drop(folder: Path, name: str, message: bytes, recipient: str, sender: str = "") -> Path:
    """Write `message` into the drop folder as `relay receive` does: whole, under a name readers
    ignore, then renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    data = f"X-Sender: <{sender}>\r\nX-Receiver: <{recipient}>\r\n".encode() + message
    temp = folder / f".{name}.tmp"
    temp.write_bytes(data)
    os.rename(temp, folder / name)
    return folder / name
