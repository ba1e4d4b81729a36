"""@mentions: which members a post names, its body rendered with their links, and the one
event that tells them.

A post's source is searched for @handles (webapp.accounts.handles); those of members become
links to their profiles (webapp.posts.markdown) and Mention rows. Each member is told once
per post: an edit that adds a mention tells only the new ones, and mentioning yourself
tells nobody. The followers' events of the same post (a new answer, comment or tagged
question) leave a mentioned member out (webapp.mail.recipients), so they get one mail.
Reads users and mentions; writes mentions and, through webapp.mail.outbox, outbox_events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from webapp.accounts.handles import PATTERN
from webapp.accounts.models import User
from webapp.mail import outbox
from webapp.mail.kinds import EventKind
from webapp.posts.markdown import render_with_mentions
from webapp.posts.models import Mention
from webapp.site.extensions import db
from webapp.site.links import external_url

_CANDIDATE = re.compile(rf"@({PATTERN})", re.IGNORECASE)
MAX_PER_POST = 50   # a post naming more members than this tells the first 50 only


@dataclass
class RenderedBody:
    """A post's body as stored, and the members its @handles name."""
    source: str
    html: str
    mentioned: set[int] = field(default_factory=set)

    @property
    def columns(self) -> dict:
        return {"body_source": self.source, "body_html": self.html}


def render_body(source: str) -> RenderedBody:
    """The Markdown rendered once, with the @handles of members linked."""
    handles = {h.lower() for h in _CANDIDATE.findall(source)}
    members = {}
    if handles:
        members = dict(db.session.execute(db.select(User.handle, User.id).where(
            User.handle.in_(handles), User.activated_at.is_not(None))).all())
    # Absolute ([webapp] base_url): the stored HTML is quoted in notification mail too.
    links = {handle: external_url("browse.profile", user_id=user_id) for handle, user_id in members.items()}
    html, linked = render_with_mentions(source, links)
    return RenderedBody(source, html, {members[h] for h in linked})


def tell(author: User, mentioned: set[int], post_kind: str, post_id: int,
         thread_kind: str, thread_id: int) -> None:
    """One mention event for the members of `mentioned` this post has not told yet (not its
    author); nothing when there are none. The caller has flushed the post (its id)."""
    told = set(db.session.execute(db.select(Mention.user_id).where(
        Mention.post_kind == post_kind, Mention.post_id == post_id)).scalars())
    new = sorted(mentioned - told - {author.id})[:MAX_PER_POST]
    if not new:
        return
    event = outbox.record(EventKind.MENTION, thread_kind, thread_id, post_id, author.id)
    db.session.flush()   # the event's id, for the rows
    db.session.add_all(Mention(event_id=event.id, user_id=user_id, post_kind=post_kind, post_id=post_id)
                       for user_id in new)


def post_kind_of(event_id: int) -> str | None:
    """The kind of post ("answer", "comment"...) a mention event is about."""
    return db.session.execute(db.select(Mention.post_kind).where(Mention.event_id == event_id)
                              .limit(1)).scalar()
