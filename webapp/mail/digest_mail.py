"""The daily digest's mail: one member's new answers, acceptances and comments in one message.

Reads the events behind a member's pending outbox rows (webapp.mail.digest chooses them) and
renders, per item, the question or article, who wrote it, a short excerpt and a link
straight to the post, grouped by question or article; past `listed` items it says "and N
more" with a link to the member's Following page. Bulk mail with the headers bulk mail
needs, as notification mail has them (List-Id, Precedence: bulk, Auto-Submitted), and a
one-click List-Unsubscribe (RFC 8058) that turns the member's notifications off. The
Message-ID is made from the digest key (member, day), so it is the same however often the
digest is rendered; the envelope sender names the member and the day (webapp.site.return_path)
when [webapp] bounce_address is set. Raises spooler.envelope.UnsafeHeaderError only for a hostile address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import render_template

from spooler.envelope import envelope_lines, single_line
from spooler.message import Address, Notification, build
from webapp.mail import notification_mail, unsubscribe
from webapp.mail.bulk_mail import bulk_headers
from webapp.mail.kinds import EventKind
from webapp.mail.models import OutboxEvent
from webapp.mail.placement import digest_key
from webapp.site import outgoing
from webapp.site.links import base_url, external_url, site_domain
from webapp.site.return_path import ReturnKind, envelope_sender

LISTED = 50             # items shown in one mail; the rest are counted ("and N more")
EXCERPT_CHARS = 240     # shorter than a notification's: a digest lists many
# What the subject counts, in its order.
_COUNTED = {EventKind.ANSWER: "new answer", EventKind.COMMENT: "new comment",
            EventKind.ACCEPTED: "accepted answer", EventKind.MENTION: "mention",
            EventKind.TAGGED: "new question"}


@dataclass(frozen=True)
class Item:
    """One answer, acceptance or comment as the digest shows it (plain values, no ORM rows)."""
    event_id: int
    kind: EventKind         # ANSWER, ACCEPTED or COMMENT
    thread_kind: str        # "question" | "article"
    thread_id: int
    title: str
    author: str
    text_excerpt: str
    html_excerpt: str
    link: str


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    display_name: str


def item(event: OutboxEvent) -> Item | None:
    """The event as a digest item; None when its post or its question/article is gone."""
    thread, post = notification_mail.load_posts(event)
    if notification_mail.is_gone(thread, post):
        return None
    text, html = notification_mail.excerpt(post, EXCERPT_CHARS)
    return Item(event.id, EventKind(event.kind), event.thread_kind, thread.id, single_line(thread.title),
                single_line(post.author.display_name), text, html,
                notification_mail.post_link(event.kind, event.thread_kind, thread.id, post.id, post))


def subject(items: list[Item]) -> str:
    """"Your daily digest: 3 new answers and 1 new comment" (and "1 accepted answer")."""
    counts = {kind: sum(1 for i in items if i.kind == kind) for kind in _COUNTED}
    parts = [f"{n} {label}{'s' if n != 1 else ''}" for kind, label in _COUNTED.items()
             if (n := counts[kind])]
    said = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Your daily digest: {said}"


def digest_message_id(user_id: int, day: date, domain: str) -> str:
    return f"{digest_key(user_id, day)}@{domain}"


def message(member: Recipient, day: date, items: list[Item], *, listed: int = LISTED) -> bytes:
    """The pickup file's bytes (envelope lines, then the message) of the member's digest.
    Needs a request context (the links are built against base_url)."""
    domain = site_domain()
    base = base_url()
    shown = items[-listed:]   # the newest, when there are too many
    groups: dict[tuple[str, int], list[Item]] = {}
    for i in shown:
        groups.setdefault((i.thread_kind, i.thread_id), []).append(i)
    link = unsubscribe.link(member.id, unsubscribe.NOTIFICATIONS_SETTING)
    context = dict(name=single_line(member.display_name), day=day, count=len(items),
                   groups=list(groups.values()), more=len(items) - len(shown),
                   following=external_url("following.index"),
                   settings=external_url("member_settings.index"),
                   unsubscribe=link, site_url=base)
    sender = outgoing.sender()
    built = build(Notification(
        sender=sender,
        to=[Address(member.email, single_line(member.display_name))],
        subject=subject(items),
        text=render_template("email/digest.txt", **context),
        html=render_template("email/digest.html", **context),
        message_id=digest_message_id(member.id, day, domain),
        extra_headers=bulk_headers(sender, domain, "notifications", link),
    ))
    sender = envelope_sender(ReturnKind.DIGEST, day.toordinal(), member.id, member.email)
    return envelope_lines(sender or built.sender, built.recipients) + built.content
