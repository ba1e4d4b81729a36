"""Replies by mail: a member's reply to a notification, posted as an answer to its question
or a comment on its article by the web form's rules, or refused with the reason.

take_reply(drop, token) is what the inbound worker calls for a drop file addressed to
[webapp] reply_address with +TOKEN. It runs in the worker's app context and transaction and
commits nothing: the worker commits the post (or the refusal) together with its record of
the file, so a file is posted once however often the worker is killed. In order:

  1. machine mail (webapp.inbound.auto_replies): AUTO_REPLY, never posted, never answered;
  2. the token (webapp.mail.reply_addresses): one the site did not make is refused and
     nobody is told (the member it names is not to be trusted); an expired one is refused
     and its member told;
  3. the sender: the message has one From, and it is the member's address (any case);
  4. DKIM (webapp.inbound.dkim_verification): every signature it carries verifies, and when
     the From domain's DMARC policy is quarantine or reject, one of them is that domain's
     (webapp.inbound.dmarc);
  5. the member: activated and not disabled (whoever may log in may post);
  6. the thread: still there, visible to the member, taking answers (not deleted or locked)
     or comments (not deleted): webapp.posts.rules' own checks;
  7. the words (webapp.inbound.reply_text): the quote and signature cut, the length the web
     form takes (webapp.posts.forms), attachments left out with a note;
  8. the member's posting budget as the web form counts it (webapp.posts.posting_limit);
     then rules.answer() or rules.comment(), which record the followers' notification in
     the outbox, as a post from the web form does.

A refusal is Result(REPLY_REFUSED, why, member id), after the member is told why by one mail
(webapp.inbound.refusal_mail: to their own address, at most one a day). `dns` is how
DKIM keys and DMARC policies are looked up: DNS with a timeout unless a test passes a table. Raises only what
the database or pickup raise (spooler.pickup.PickupError when the explanation cannot be
written): the worker then records nothing, and tries the file again.
"""

from __future__ import annotations

from wtforms.validators import Length

from webapp.accounts.models import User
from webapp.inbound import dkim_verification, dmarc, refusal_mail
from webapp.inbound.auto_replies import why_automatic
from webapp.inbound.dkim_verification import KeyLookup, dns_txt
from webapp.inbound.message import DropFile, Handled, Result
from webapp.inbound.reply_text import reply_text
from webapp.mail import reply_addresses
from webapp.mail.reply_addresses import ReplyToken, TokenExpired, TokenNotValid
from webapp.posts import posting_limit, rules
from webapp.posts.forms import BODY_LENGTH, COMMENT_LENGTH
from webapp.posts.models import Answer, Article, Comment, Question
from webapp.site.config import site_config
from webapp.site.extensions import db

THREADS = {"question": Question, "article": Article}
DETAIL_CHARS = 1000   # inbound_messages.detail
_SHOWN_ADDRESS_CHARS = 100


class ReplyRefused(Exception):
    """A reply that is not posted; str() says why, in words for the member."""


def take_reply(drop: DropFile, token: str, *, dns: KeyLookup = dns_txt) -> Result:
    """Post the reply in `drop` that came to the reply address with `token`, or say why not."""
    automatic = why_automatic(drop.message, drop.sender)
    if automatic is not None:
        return Result(Handled.AUTO_REPLY, automatic)
    try:
        named = reply_addresses.read(token)
    except TokenNotValid as e:
        return Result(Handled.REPLY_REFUSED, str(e))
    except TokenExpired as e:
        return _refused(drop, e.token, f"{e} Post on the site instead.")
    try:
        post = _post(drop, named, dns)
    except (ReplyRefused, rules.PostRefused) as e:
        return _refused(drop, named, str(e))
    noun = "answer" if isinstance(post, Answer) else "comment"
    return Result(Handled.REPLY, f"posted as {noun} {post.id} on {named.thread_kind} {named.thread_id}",
                  named.member_id)


def _post(drop: DropFile, named: ReplyToken, dns: KeyLookup) -> Answer | Comment:
    """The post the reply makes, after every check; ReplyRefused or PostRefused saying why not."""
    member = db.session.get(User, named.member_id)
    if member is None:
        raise ReplyRefused("The account this reply address was made for no longer exists.")
    sender = _check_sender(drop, member)
    signatures = dkim_verification.verify(drop.content, dns)
    why_not = signatures.refusal or dmarc.refusal(sender.rpartition("@")[2], signatures.signers, dns)
    if why_not is not None:
        raise ReplyRefused(why_not)
    _check_member(member)
    thread = _open_thread(named, member)
    text = reply_text(drop.message)
    _check_length(text.words, BODY_LENGTH if named.thread_kind == "question" else COMMENT_LENGTH)
    if not posting_limit.may_post(member.id):
        raise ReplyRefused(f"You posted {site_config().webapp.posts_per_minute} times in the last "
                           "minute, the most the site takes. Send it again in a minute.")
    if isinstance(thread, Question):
        post = rules.answer(member, thread, text.post())
    else:
        post = rules.comment(member, thread, text.post())
    posting_limit.count_post(member.id)
    return post


def _check_sender(drop: DropFile, member: User) -> str:
    """The reply's From address, when it is the member's."""
    sender = _only_from_address(drop)
    if sender != User.normalize_email(member.email):
        shown = sender[:_SHOWN_ADDRESS_CHARS] if sender else "an address that could not be read"
        raise ReplyRefused(f"It came from {shown}, not from {member.email}, the address of your "
                           "account. Reply from that address, or post on the site.")
    return sender


def _only_from_address(drop: DropFile) -> str | None:
    """The address of the message's one From header naming one address, else None."""
    headers = drop.message.get_all("From") or []
    addresses = getattr(headers[0], "addresses", ()) if len(headers) == 1 else ()
    if len(addresses) != 1 or not addresses[0].addr_spec:
        return None
    return User.normalize_email(addresses[0].addr_spec)


def _check_member(member: User) -> None:
    if member.is_disabled:
        raise ReplyRefused("Your account is disabled: it cannot post.")
    if not member.is_activated:
        raise ReplyRefused("Your account is not activated yet: open the link in its activation "
                           "mail, then reply again.")


def _open_thread(named: ReplyToken, member: User) -> Question | Article:
    """The question or article the reply is for, while it takes answers or comments."""
    thread = db.session.get(THREADS[named.thread_kind], named.thread_id)
    if thread is None or not thread.visible_to(member):
        raise ReplyRefused(f"This {named.thread_kind} is no longer on the site.")
    if isinstance(thread, Question):
        rules.check_takes_answers(thread)
    else:
        rules.check_takes_comments(thread)
    return thread


def _check_length(words: str, length: Length) -> None:
    if not length.min <= len(words) <= length.max:
        raise ReplyRefused(f"Without the quoted mail and your signature, {len(words):,} characters "
                           f"were left. {length.message}")


def _refused(drop: DropFile, named: ReplyToken, why: str) -> Result:
    """The refusal's Result, after the member is told (when they may be, once a day)."""
    member = db.session.get(User, named.member_id)
    if member is None:
        return Result(Handled.REPLY_REFUSED, why[:DETAIL_CHARS])
    thread = db.session.get(THREADS[named.thread_kind], named.thread_id)
    told = refusal_mail.tell_refused(member, why, thread, drop.message.get("Message-ID"))
    outcome = "the member was told" if told else "not told: told in the last 24 hours, or not mailable"
    return Result(Handled.REPLY_REFUSED, f"{why[:DETAIL_CHARS - 80]} ({outcome})", member.id)
