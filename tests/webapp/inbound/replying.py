"""Replies by mail as the inbound worker hands them over: a drop file written to tmp_path, read
with read_drop_file, given to take_reply in an app context, and committed with the worker's
record of the file."""

from __future__ import annotations

import email
import email.policy
import itertools
from email.message import EmailMessage

from spooler.envelope import parse_pickup
from tests.webapp.conftest import reconfigure
from webapp.accounts.models import User
from webapp.inbound.message import Result, read_drop_file
from webapp.inbound.models import InboundMessage
from webapp.inbound.replies import take_reply
from webapp.mail.reply_addresses import ReplyAddresses
from webapp.site.extensions import db

REPLY = "reply@qa.example.test"
_files = itertools.count(1)


def replies_on(app) -> None:
    reconfigure(app, reply_address=REPLY)


def member_id(app, name: str) -> int:
    with app.app_context():
        return db.session.execute(db.select(User.id).filter_by(display_name=name)).scalar_one()


def token_for(app, name: str, kind: str, thread_id: int, now: float | None = None) -> str:
    """The token of `name`'s reply address for the thread, as their notification carried it."""
    with app.test_request_context():
        return ReplyAddresses(kind, thread_id, now).token(member_id(app, name))


def reply_message(text: str = "Use `for line in f:` on the open file, it reads lazily.", *,
                  from_: str = "Bob <bob@example.org>", token: str = "x", **headers) -> EmailMessage:
    message = EmailMessage()
    message["From"] = from_
    message["To"] = f"reply+{token}@qa.example.test"
    message["Subject"] = "Re: New answer to your question"
    message["Date"] = "Sun, 06 Dec 2026 10:00:00 +0000"
    message["Message-ID"] = f"<r{next(_files)}@example.org>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def write_drop(tmp_path, content: bytes | EmailMessage, token: str,
               sender: str = "bob@example.org"):
    """A drop file in tmp_path for `content` sent by `sender` to the reply address with `token`."""
    if isinstance(content, EmailMessage):
        content = content.as_bytes(policy=email.policy.SMTP)
    path = tmp_path / f"drop-{next(_files)}.eml"
    path.write_bytes(f"X-Sender: <{sender}>\r\nX-Receiver: <reply+{token}@qa.example.test>\r\n".encode()
                     + content)
    return path


def take(app, path, token: str, **kw) -> Result:
    """take_reply on the drop file at `path`, committed with the worker's record of the file."""
    with app.app_context():
        drop = read_drop_file(path)
        result = take_reply(drop, token, **kw)
        db.session.add(InboundMessage(file_name=drop.name, sender=drop.sender, handled=result.handled,
                                      detail=result.detail[:1000], member_id=result.member_id))
        db.session.commit()
        return result


def reply(app, tmp_path, token: str, text: str | None = None, *, from_: str = "Bob <bob@example.org>",
          sender: str = "bob@example.org", **kw) -> Result:
    message = reply_message(from_=from_, token=token) if text is None else \
        reply_message(text, from_=from_, token=token)
    return take(app, write_drop(tmp_path, message, token, sender), token, **kw)


def refusal_mails(config) -> list[tuple[tuple[str, ...], EmailMessage]]:
    """(envelope recipients, message) of each "not posted" explanation in pickup."""
    found = []
    for path in sorted(config.pickup.dir.glob("*.eml")):
        parsed = parse_pickup(path.read_bytes())
        message = email.message_from_bytes(parsed.content, policy=email.policy.default)
        if message["Subject"].startswith("Your reply was not posted"):
            found.append((parsed.recipients, message))
    return found
