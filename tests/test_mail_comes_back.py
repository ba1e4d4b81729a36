"""Mail that comes back, end to end: a notification leaves through the relay with the member's
return path, a bounce for it comes back through `relay receive` into the drop folder, the
inbound worker marks the member bouncing and they get no more notifications; a member's reply
to another notification comes back the same way, is posted as an answer, and its followers
are notified. Real relay, real `relay receive` and a real aiosmtpd smart host on loopback,
real SQLite, the site's own workers."""

from __future__ import annotations

import email
import email.policy
import smtplib

import pytest

from relay.inbound.server import InboundServer
from tests.configs import SITE, build_config
from tests.ports import free_port
from tests.relay.relay_helpers import RunningRelay, wait_until
from tests.smtp_servers import FaultyServer
from tests.test_bounce_to_site import work_outbox
from tests.webapp.conftest import site_app
from tests.webapp.qa_helpers import answer, ask, member, press
from webapp.accounts.models import User
from webapp.inbound.models import InboundMessage
from webapp.inbound.worker import InboundWorker
from webapp.posts.models import Answer
from webapp.site.extensions import db

RETURN_DOMAIN = "mail.example.org"


@pytest.fixture
def chain(tmp_path):
    port, inbound_port = free_port(), free_port()
    config = build_config(tmp_path, SITE, relay={
        "retry_schedule": ["1s"], "smarthost": {"port": port, "timeout": "2s"}},
        webapp={"bounce_address": f"bounces@{RETURN_DOMAIN}",
                "reply_address": f"reply@{RETURN_DOMAIN}"},
        inbound={"listen": f"127.0.0.1:{inbound_port}", "domains": [RETURN_DOMAIN],
                 "dir": "var/drop", "client_message_rate": ""})
    config.inbound.dir.mkdir(parents=True)   # as `relay receive` makes it
    with site_app(config) as app:
        yield app, config, port


def mail_back(config, sender: str, recipient: str, content: bytes) -> None:
    """`content` sent to `relay receive` as a mailbox provider's MX would send it."""
    port = int(config.inbound.listen.rpartition(":")[2])
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.provider.test", timeout=10) as smtp:
        assert smtp.sendmail(sender, [recipient], content) == {}


def work_inbound(app) -> int:
    """One run of the inbound worker over every waiting drop file."""
    with app.app_context():
        worker = InboundWorker()
        try:
            return worker.run(lambda: False, once=True)
        finally:
            worker.close()


def bounce_for(notification, address: str) -> bytes:
    """A Postfix-style DSN for `notification` (Received) that refused `address` for good."""
    original = email.message_from_bytes(notification.content, policy=email.policy.default)
    return (
        f"From: MAILER-DAEMON@mx.provider.test (Mail Delivery System)\r\n"
        f"To: {notification.sender}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
        f"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.provider.test\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{address}>: mailbox unavailable\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original['Message-ID']}\r\nSubject: {original['Subject']}\r\n"
        f"--B--\r\n").encode()


def reply_to(notification, sender: str, words: str) -> tuple[str, bytes]:
    """A reply to `notification` as Gmail writes one: the words, then the quoted mail."""
    original = email.message_from_bytes(notification.content, policy=email.policy.default)
    address = original["Reply-To"].addresses[0].addr_spec
    quoted = "\r\n".join(f"> {line}" for line in
                         original.get_body(("plain",)).get_content().splitlines())
    return address, (
        f"From: Dan <{sender}>\r\nTo: {address}\r\nSubject: Re: {original['Subject']}\r\n"
        f"In-Reply-To: {original['Message-ID']}\r\nMessage-ID: <reply-1@provider.test>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{words}\r\n\r\n"
        f"On Sat, 5 Dec 2026 at 10:00, Q&A <noreply@example.test> wrote:\r\n{quoted}\r\n").encode()


def notifications_to(smarthost, address: str) -> list:
    return [r for r in smarthost.received if address in r.recipients]


def test_a_bounce_marks_the_member_and_a_reply_becomes_an_answer_its_followers_hear_of(chain):
    app, config, port = chain
    ann, bob, cat, dan, eve = (member(app, config, n) for n in ("Ann", "Bob", "Cat", "Dan", "Eve"))
    for leftover in config.pickup.dir.glob("*.eml"):   # the activation mails: not this test's subject
        leftover.unlink()
    with FaultyServer(port=port) as smarthost, RunningRelay(config), InboundServer(config.inbound):
        # A bounce, reported later, as real smart hosts do: the SMTP session said 250.
        question_id = ask(ann)
        answer(bob, question_id)
        work_outbox(app)
        wait_until(lambda: notifications_to(smarthost, "ann@example.org"), what="Ann's notification")
        sent = notifications_to(smarthost, "ann@example.org")[0]
        assert sent.sender.startswith("bounces+") and sent.sender.endswith(f"@{RETURN_DOMAIN}")
        assert "ann" not in sent.sender.lower()   # the token names her without saying who she is
        mail_back(config, "", sent.sender, bounce_for(sent, "ann@example.org"))
        assert work_inbound(app) == 1
        with app.app_context():
            ann_row = db.session.execute(db.select(User).filter_by(email="ann@example.org")).scalar_one()
            assert ann_row.bouncing_at is not None and "mailbox unavailable" in ann_row.bounce_reason
        answer(cat, question_id, body="Another way: `pathlib.Path.read_text().splitlines()`.")
        work_outbox(app)
        wait_until(lambda: notifications_to(smarthost, "bob@example.org"), what="Bob hears of Cat")
        assert len(notifications_to(smarthost, "ann@example.org")) == 1

        # A reply by mail: Dan answers from his mail client, and Eve, who follows, hears of it.
        second = ask(dan, title="Why does my SQLite database say it is locked?")
        press(eve, f"/questions/{second}", f"/follow/question/{second}")
        answer(bob, second, body="Another process holds a write transaction: use WAL mode.")
        work_outbox(app)
        wait_until(lambda: notifications_to(smarthost, "dan@example.org"), what="Dan's notification")
        address, reply = reply_to(notifications_to(smarthost, "dan@example.org")[0], "dan@example.org",
                                  "Thanks! WAL mode fixed it; busy_timeout helps as well.")
        mail_back(config, "dan@example.org", address, reply)
        assert work_inbound(app) == 1
        with app.app_context():
            dans = db.session.execute(db.select(Answer).join(User, Answer.author_id == User.id)
                                      .where(User.email == "dan@example.org")).scalars().all()
            assert [a.body_source.strip() for a in dans] == [
                "Thanks! WAL mode fixed it; busy_timeout helps as well."]
            kinds = db.session.execute(db.select(InboundMessage.handled)
                                       .order_by(InboundMessage.id)).scalars().all()
            assert [str(k) for k in kinds] == ["bounce", "reply"]
        work_outbox(app)
        wait_until(lambda: any(b"busy_timeout helps" in r.content
                               for r in notifications_to(smarthost, "eve@example.org")),
                   what="Eve's notification of Dan's answer")
    page = eve.get(f"/questions/{second}").get_data(as_text=True)
    assert "busy_timeout helps as well" in page and "wrote:" not in page
