"""One notification rendered once, stamped for each of its many recipients.

Rendering templates and building a message costs far more than writing it; a fan-out
to 10,000 followers sends one text to all of them with a few differences. A Stamp
keeps the header lines and the rendered text and HTML of one Notification and, per
recipient, changes only To, Message-ID, the headers named as per-recipient
(List-Unsubscribe) and the slots in the bodies (a greeting's name, a link), then
encodes the bodies (quoted-printable, in C). It calls the same functions as
spooler.message.build, so its bytes equal build()'s for the same values, Date and
boundary (tested).
"""

from __future__ import annotations

from dataclasses import replace

from markupsafe import escape

from spooler.envelope import check_header_value
from spooler.message import (
    Address,
    Notification,
    OutgoingMessage,
    body_bytes,
    build,
    extra_header_line,
    head_lines,
    new_boundary,
    now_header,
)

_PROBE = Address("recipient@stamp.invalid")


def slot(name: str) -> str:
    """The placeholder a template writes where a recipient's value goes (private-use characters
    that no text contains and Jinja does not escape)."""
    return f"\ue000{name}\ue000"


class Stamp:
    def __init__(self, template: Notification, recipient_headers: tuple[str, ...] = ()):
        """`template`: the notification as every recipient gets it, its bodies holding slot()s;
        its To and Message-ID are replaced per recipient, and so are `recipient_headers`
        (names of its extra_headers)."""
        self.template = template
        self.date = now_header()
        self.boundary = new_boundary()
        self._lines = head_lines(replace(template, to=[_PROBE]), "id@stamp.invalid", self.date)
        first_extra = 7 if template.auto_submitted else 5
        names = list(template.extra_headers)
        self._header_index = {name: first_extra + names.index(name) for name in recipient_headers}

    def message(self, to: Address, message_id: str, *, headers: dict[str, str] | None = None,
                values: dict[str, str] | None = None) -> OutgoingMessage:
        """The message for one recipient: `values` fill the bodies' slots (HTML-escaped in the
        HTML part), `headers` the per-recipient headers."""
        check_header_value(message_id, "Message-ID")
        lines = self._lines.copy()
        lines[1] = "To: " + to.header()
        lines[4] = f"Message-ID: <{message_id}>"
        for name, value in (headers or {}).items():
            lines[self._header_index[name]] = extra_header_line(name, value)
        text, html = self.template.text, self.template.html
        for name, value in (values or {}).items():
            text = text.replace(slot(name), value)
            if html is not None:
                html = html.replace(slot(name), str(escape(value)))
        content = "\r\n".join(lines).encode("utf-8") + b"\r\n" + body_bytes(text, html, self.boundary)
        return OutgoingMessage(content=content, sender=self.template.sender.address,
                               recipients=(to.address,), message_id=message_id)

    def slow_path(self, notification: Notification) -> OutgoingMessage:
        """build() of a notification made the slow way, with this stamp's Date and boundary:
        what message() must equal."""
        return build(notification, boundary=self.boundary, date=self.date)
