"""The newsletter's mail: the admin's Markdown, rendered once and stamped per member.

The same shape as a notification (spooler.stamp, a Message-ID from the delivery key,
Precedence: bulk, Auto-Submitted), with its own List-Id and a one-click
List-Unsubscribe (RFC 8058) that turns the newsletter off for that member.

The text part is the HTML part made readable (webapp.mail.plain_text: no Markdown signs,
links as numbered footnotes), not the Markdown source. One greeting: the mail opens with
"Hello NAME," unless the admin's text opens with a greeting of its own ("Hello members,",
"Hi all", "Dear ...").
"""

from __future__ import annotations

import re

from flask import render_template

from spooler.envelope import single_line
from spooler.message import Notification
from spooler.stamp import Stamp, slot
from webapp.mail.bulk_mail import STAMP_RECIPIENT, STAMPED_HEADERS, StampedMail, bulk_headers
from webapp.mail.models import Newsletter
from webapp.mail.plain_text import as_text
from webapp.mail.unsubscribe import NEWSLETTER_SETTING, UnsubscribeLinks
from webapp.posts.markdown import render
from webapp.site import outgoing
from webapp.site.links import base_url, external_url, site_domain
from webapp.site.return_path import ReturnKind, paths_for

# The words a greeting opens with: a text that starts so gets no "Hello NAME," above it.
_GREETING = re.compile(r"\s*(hello|hi|hey|dear|greetings|good (morning|afternoon|evening|day)|"
                       r"welcome|howdy)\b", re.IGNORECASE)


def opens_with_greeting(body_source: str) -> bool:
    return _GREETING.match(body_source) is not None


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
    html = body_html if body_html is not None else render(body_source)
    context = dict(name=name, greet=not opens_with_greeting(body_source), body_html=html,
                   body_text=as_text(html, base_url()), unsubscribe=unsubscribe_link,
                   settings=external_url("member_settings.index"), site_url=base_url())
    return Notification(
        sender=sender,
        to=[STAMP_RECIPIENT],
        subject=single_line(subject),
        text=render_template("email/newsletter.txt", **context),
        html=render_template("email/newsletter.html", **context),
        extra_headers=bulk_headers(sender, site_domain(), "newsletter", unsubscribe_link),
    )
