"""The outbox's words as types: what an event is about (EventKind) and why a member was left
out of one (SkipReason), each with the string the database stores and the words shown.

outbox_events.kind holds an EventKind; outbox_deliveries.status holds SENT or a SkipReason.
Both are StrEnums, so a value read back from the database compares equal to its member.
"""

from __future__ import annotations

from enum import StrEnum

SENT = "sent"   # a delivery's status when its mail was written to pickup


class EventKind(StrEnum):
    ANSWER = "answer"            # a new answer: to the question's followers
    ACCEPTED = "accepted"        # an accepted answer: to its author
    COMMENT = "comment"          # a new comment: to the article's followers
    NEWSLETTER = "newsletter"    # a newsletter: to every member with the newsletter on
    MENTION = "mention"          # a post names @them: to the members it mentions (once per post)
    TAGGED = "tagged"            # a new question: to the followers of any of its tags

    @property
    def words(self) -> str:
        return _KIND_WORDS.get(self, self.value)


class SkipReason(StrEnum):
    """Why one event's mail did not go to one member (webapp.mail.fanout decides it)."""
    POST_GONE = "post_gone"      # the post, or its question or article, was deleted or hidden
    AUTHOR = "author"            # they wrote it
    INACTIVE = "inactive"        # the account is not activated
    DISABLED = "disabled"        # an admin disabled the account
    BOUNCING = "bouncing"        # mail to the address fails (the relay's feedback)
    OPTED_OUT = "opted_out"      # notifications (or the newsletter) off
    DIGEST = "digest"            # they chose the daily digest: in their next one
    CAP = "cap"                  # over max_notifications_per_day: in their next digest
    MENTIONED = "mentioned"      # the post mentions them: told once, by its mention event
    WAITING = "waiting"          # "when I'm away": mailed after mail_when_away unless read on the site
    READ_ON_SITE = "read_site"   # read on the site before its mail or digest went

    @property
    def words(self) -> str:
        return _REASON_WORDS[self]


FOR_THE_DIGEST = (SkipReason.DIGEST, SkipReason.CAP)   # reasons whose items the next digest lists
# Reasons left out of the on-site notification too (everyone else is told on the site); a
# member the post mentions is told on the site by the mention's own notification.
NOT_ON_SITE = (SkipReason.POST_GONE, SkipReason.AUTHOR, SkipReason.MENTIONED)
# A delivery still open: reading the notification on the site settles it as READ_ON_SITE.
UNTIL_READ = (SkipReason.WAITING, *FOR_THE_DIGEST)

_KIND_WORDS = {EventKind.ANSWER: "New answer", EventKind.ACCEPTED: "Your answer was accepted",
               EventKind.COMMENT: "New comment", EventKind.MENTION: "You were mentioned",
               EventKind.TAGGED: "New question in a tag you follow"}
_REASON_WORDS = {
    SkipReason.POST_GONE: "post deleted",
    SkipReason.AUTHOR: "you wrote it",
    SkipReason.INACTIVE: "account not activated",
    SkipReason.DISABLED: "account disabled",
    SkipReason.BOUNCING: "address bouncing",
    SkipReason.OPTED_OUT: "notifications off",
    SkipReason.DIGEST: "in your daily digest",
    SkipReason.CAP: "daily limit reached",
    SkipReason.MENTIONED: "told by the mention",
    SkipReason.WAITING: "waiting: mailed if you do not read it on the site",
    SkipReason.READ_ON_SITE: "read on the site",
}


def status_words(status: str) -> str:
    """A delivery's status in words a member reads: "sent", or why not."""
    if status == SENT or status not in _REASON_WORDS:
        return status
    return SkipReason(status).words
