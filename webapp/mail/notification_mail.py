"""The mail of one outbox event, rendered once and stamped for each recipient.

Subject and body name the question or article and quote the start of the answer or
comment (its Markdown rendered and sanitised for the HTML part, the source for the
text part), with a link straight to it. Every notification about one question (or
article) answers the same stable id in In-Reply-To and References, so a mail client
shows one thread per question. Each recipient gets their own Message-ID, made from
the delivery key (event, member), and their own signed one-click unsubscribe link
(List-Unsubscribe with List-Unsubscribe-Post, RFC 8058, and in the body) beside the
headers bulk mail needs: List-Id, Precedence: bulk, Auto-Submitted (RFC 3834). While
[webapp] reply_address is set, a notification of an answer or a comment also carries the
member's own Reply-To (webapp.mail.reply_addresses), stamped like the unsubscribe link, and
says that replying posts the reply.
"""

from __future__ import annotations

from flask import render_template

from spooler.envelope import single_line
from spooler.message import Notification
from spooler.stamp import Stamp, slot
from webapp.mail import reply_addresses
from webapp.mail.bulk_mail import REPLY_TO, STAMP_RECIPIENT, STAMPED_HEADERS, StampedMail, bulk_headers
from webapp.mail.kinds import EventKind
from webapp.mail.models import OutboxEvent
from webapp.mail.unsubscribe import NOTIFICATIONS_SETTING, TAGS_OF_QUESTION, UnsubscribeLinks
from webapp.posts import mentions
from webapp.posts.markdown import render
from webapp.posts.models import POSTS_BY_KIND, Article, Comment, Question
from webapp.site import outgoing
from webapp.site.extensions import db
from webapp.site.links import base_url, external_url, site_domain
from webapp.site.return_path import ReturnKind, paths_for

EXCERPT_CHARS = 600
NOTIFICATION_SUBJECTS = {
    EventKind.ANSWER: "New answer: {title}",
    EventKind.ACCEPTED: "Your answer was accepted: {title}",
    EventKind.COMMENT: "New comment: {title}",
    EventKind.MENTION: "{actor} mentioned you: {title}",
    EventKind.TAGGED: "New question: {title}",
}


def thread_id(thread_kind: str, thread_id: int, domain: str) -> str:
    return f"{thread_kind}-{thread_id}@{domain}"


def load_posts(event: OutboxEvent) -> tuple:
    """(the question or article, the post the event is about: an answer, a comment, or the
    question or article itself for a new question or a mention in one)."""
    thread_model = Question if event.thread_kind == "question" else Article
    post_model = POSTS_BY_KIND.get(_post_kind(event))
    post = db.session.get(post_model, event.post_id) if post_model is not None else None
    return db.session.get(thread_model, event.thread_id), post


def _post_kind(event: OutboxEvent) -> str | None:
    if event.kind == EventKind.MENTION:
        return mentions.post_kind_of(event.id)
    if event.kind == EventKind.TAGGED:
        return "question"
    return "comment" if event.kind == EventKind.COMMENT else "answer"


def unsubscribe_target(event: OutboxEvent) -> tuple[str, int]:
    """What the mail's one-click link stops: following the thread; for a new question, the
    member's follows of its tags; for a mention, notification mail (as the digest's link)."""
    if event.kind == EventKind.MENTION:
        return NOTIFICATIONS_SETTING, 0
    if event.kind == EventKind.TAGGED:
        return TAGS_OF_QUESTION, event.thread_id
    return event.thread_kind, event.thread_id


def is_gone(thread, post) -> bool:
    """Deleted or hidden, the post or what it belongs to: nobody is told about it."""
    return any(p is None or p.is_deleted or p.is_hidden for p in (thread, post))


def prepare(event: OutboxEvent) -> StampedMail | None:
    """The event's mail as it reads now (after any edit in the hold window); None when gone."""
    thread, post = load_posts(event)
    if is_gone(thread, post):
        return None
    replies = reply_addresses.for_event(event.kind, event.thread_kind, event.thread_id)
    reply_to = STAMP_RECIPIENT.address if replies else None   # a stand-in, stamped per member
    template = notification(event, thread, post, slot("name"), slot("unsubscribe"), reply_to)
    stamped = (*STAMPED_HEADERS, REPLY_TO) if replies else STAMPED_HEADERS
    return StampedMail(Stamp(template, stamped), site_domain(),
                       UnsubscribeLinks(*unsubscribe_target(event)),
                       paths_for(ReturnKind.NOTIFICATION, event.id), replies)


def notification(event: OutboxEvent, thread, post, name: str, unsubscribe_link: str,
                 reply_to: str | None = None) -> Notification:
    """The Notification for one recipient with these values (slots when stamping): the one
    place the mail is written, for the stamp and for the slow path the tests compare with.
    `reply_to`: the member's reply address, when the mail takes replies."""
    domain = site_domain()
    base = base_url()
    text_excerpt, html_excerpt = excerpt(post)
    context = dict(kind=event.kind, thread=thread, thread_kind=event.thread_kind,
                   actor=single_line(post.author.display_name), name=name,
                   text_excerpt=text_excerpt, html_excerpt=html_excerpt,
                   tags=", ".join(t.name for t in getattr(thread, "tags", [])),
                   link=post_link(event.kind, event.thread_kind, thread.id, post.id, post),
                   unsubscribe=unsubscribe_link, takes_replies=reply_to is not None,
                   settings=external_url("member_settings.index"), site_url=base)
    root = f"<{thread_id(event.thread_kind, thread.id, domain)}>"
    sender = outgoing.sender()
    headers = {"In-Reply-To": root, "References": root,
               **bulk_headers(sender, domain, "notifications", unsubscribe_link)}
    if reply_to is not None:
        headers[REPLY_TO] = reply_to
    return Notification(
        sender=sender,
        to=[STAMP_RECIPIENT],
        subject=NOTIFICATION_SUBJECTS[event.kind].format(title=single_line(thread.title),
                                                         actor=context["actor"]),
        text=render_template("email/notification.txt", **context),
        html=render_template("email/notification.html", **context),
        extra_headers=headers,
    )


def post_link(kind: str, thread_kind: str, target_id: int, post_id: int, post=None) -> str:
    """The absolute link straight to an answer or comment on its question's or article's page
    (`post`, when given, says which it is: a question or article is its page's top)."""
    endpoint = "articles.show" if thread_kind == "article" else "questions.show"
    page = external_url(endpoint, **{f"{thread_kind}_id": target_id})
    if isinstance(post, Question | Article):
        return page
    is_comment = isinstance(post, Comment) if post is not None else kind == EventKind.COMMENT
    return page + f"#{'comment' if is_comment else 'answer'}-{post_id}"


def excerpt(post, chars: int = EXCERPT_CHARS) -> tuple[str, str]:
    """(text, HTML) of the post's start: the Markdown source cut at a word near `chars`,
    and that cut rendered and sanitised (the stored HTML when nothing was cut)."""
    source = post.body_source
    if len(source) <= chars:
        return source, post.body_html
    cut = source[:chars].rsplit(None, 1)[0] + " …"
    return cut, render(cut)
