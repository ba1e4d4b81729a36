"""The newsletter's mail: the admin's Markdown, rendered once and stamped per member.

The same shape as a notification (spooler.stamp, a Message-ID from the delivery key,
Precedence: bulk, Auto-Submitted), with its own List-Id and a one-click
List-Unsubscribe (RFC 8058) that turns the newsletter off for that member.
"""

from __future__ import annotations

from flask import render_template, url_for

from spooler.envelope import single_line
from spooler.message import Address, Notification
from spooler.stamp import Stamp, slot
from webapp.mail.models import Newsletter
from webapp.mail.notification_mail import EventMail
from webapp.mail.unsubscribe import NEWSLETTER_SETTING, Links
from webapp.posts.markdown import render
from webapp.site import outgoing
from webapp.site.links import base_url, site_domain

_RECIPIENT_HEADERS = ("List-Unsubscribe",)


def prepare(newsletter: Newsletter) -> EventMail:
    template = notification(newsletter.subject, newsletter.body_source, newsletter.body_html,
                            slot("name"), slot("unsubscribe"))
    return EventMail(Stamp(template, _RECIPIENT_HEADERS), NEWSLETTER_SETTING, 0, site_domain(),
                     Links(NEWSLETTER_SETTING, 0))


def notification(subject: str, body_source: str, body_html: str | None, name: str,
                 unsubscribe_link: str) -> Notification:
    """The newsletter for one member with these values (slots when stamping)."""
    domain = site_domain()
    base = base_url()
    sender = outgoing.sender()
    context = dict(name=name, body_text=body_source,
                   body_html=body_html if body_html is not None else render(body_source),
                   unsubscribe=unsubscribe_link, settings=base + url_for("member_settings.index"),
                   site_url=base)
    return Notification(
        sender=sender,
        to=[Address("recipient@stamp.invalid")],
        subject=single_line(subject),
        text=render_template("email/newsletter.txt", **context),
        html=render_template("email/newsletter.html", **context),
        extra_headers={
            "List-Id": f"{single_line(sender.name) or domain} newsletter <newsletter.{domain}>",
            "List-Unsubscribe": f"<{unsubscribe_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Precedence": "bulk",
        },
    )
