"""The newsletter's mail: the admin's Markdown, rendered once and stamped per member.

The same shape as a notification (spooler.stamp, a Message-ID from the delivery key,
Precedence: bulk, Auto-Submitted), with its own List-Id and a one-click
List-Unsubscribe (RFC 8058) that turns the newsletter off for that member.
"""

from __future__ import annotations

from flask import render_template

from spooler.envelope import single_line
from spooler.message import Notification
from spooler.stamp import Stamp, slot
from webapp.mail.bulk_mail import STAMP_RECIPIENT, STAMPED_HEADERS, StampedMail, bulk_headers
from webapp.mail.models import Newsletter
from webapp.mail.unsubscribe import NEWSLETTER_SETTING, UnsubscribeLinks
from webapp.posts.markdown import render
from webapp.site import outgoing
from webapp.site.links import base_url, external_url, site_domain
from webapp.site.return_path import ReturnKind, paths_for


def prepare(newsletter: Newsletter) -> StampedMail:
    template = notification(newsletter.subject, newsletter.body_source, newsletter.body_html,
                            slot("name"), slot("unsubscribe"))
    return StampedMail(Stamp(template, STAMPED_HEADERS), site_domain(),
                       UnsubscribeLinks(NEWSLETTER_SETTING, 0),
                       paths_for(ReturnKind.NEWSLETTER, newsletter.event_id or 0))


def notification(subject: str, body_source: str, body_html: str | None, name: str,
                 unsubscribe_link: str) -> Notification:
    """The newsletter for one member with these values (slots when stamping)."""
    sender = outgoing.sender()
    context = dict(name=name, body_text=body_source,
                   body_html=body_html if body_html is not None else render(body_source),
                   unsubscribe=unsubscribe_link, settings=external_url("member_settings.index"),
                   site_url=base_url())
    return Notification(
        sender=sender,
        to=[STAMP_RECIPIENT],
        subject=single_line(subject),
        text=render_template("email/newsletter.txt", **context),
        html=render_template("email/newsletter.html", **context),
        extra_headers=bulk_headers(sender, site_domain(), "newsletter", unsubscribe_link),
    )
