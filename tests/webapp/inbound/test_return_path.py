"""Each bulk and account mail goes out from bounces+TOKEN@ the bounce domain when [webapp]
bounce_address is set: the token names the member and the mail, survives a change of case, and
is refused when altered, made with another key, or not ours at all; without the key set the
envelope sender is mail_from's address, as before."""

from __future__ import annotations

import re
from datetime import date

from spooler.envelope import parse_pickup
from tests.configs import SITE, build_config
from tests.webapp.conftest import pickup_messages, site_app
from tests.webapp.inbound.conftest import BOUNCE_ADDRESS
from tests.webapp.mail.test_outbox import fan_out
from tests.webapp.qa_helpers import answer, ask, member
from webapp.accounts.models import User
from webapp.mail.digest import send_digests
from webapp.mail.models import OutboxEvent
from webapp.site import return_path
from webapp.site.extensions import db
from webapp.site.return_path import ReturnKind, ReturnPaths

RETURN_PATH = re.compile(r"bounces\+([a-z2-7]{36})@bounce\.example\.test")


def member_id(app, email: str) -> int:
    with app.app_context():
        return User.by_email(email).id


def senders(config, pattern: str = "*.eml") -> dict[str, str]:
    """Envelope sender by recipient of the pickup files matching `pattern`."""
    found = {}
    for path in sorted(config.pickup.dir.glob(pattern)):
        parsed = parse_pickup(path.read_bytes())
        found[parsed.recipients[0]] = parsed.sender
    return found


def token_of(sender: str) -> str:
    match = RETURN_PATH.fullmatch(sender)
    assert match, sender
    return match.group(1)


def test_a_notification_goes_out_from_a_return_path_naming_its_member_and_event(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    answer(bob, ask(ann))
    assert fan_out(app) == 1
    sender = senders(config, "n*.bulk.eml")["ann@example.org"]
    assert len(sender.partition("@")[0]) <= 64
    with app.app_context():
        event_id = db.session.execute(db.select(OutboxEvent.id)).scalar_one()
        said = return_path.read(token_of(sender))
        assert (said.kind, said.member_id, said.mail_id) == \
            (ReturnKind.NOTIFICATION, member_id(app, "ann@example.org"), event_id)
        assert said.address_hash == return_path.address_hash("ann@example.org")


def test_account_mail_and_the_digest_name_their_member_too(app, config):
    ann = member(app, config, "Ann")
    bob = member(app, config, "Bob")
    with app.app_context():
        db.session.execute(db.update(User).filter_by(display_name="Ann").values(notify_mode="daily"))
        db.session.commit()
    answer(bob, ask(ann))
    fan_out(app)
    with app.app_context():
        assert send_digests(date(2026, 12, 6)).placed == 1
        digest = return_path.read(token_of(senders(config, "d*.bulk.eml")["ann@example.org"]))
        assert (digest.kind, digest.mail_id) == (ReturnKind.DIGEST, date(2026, 12, 6).toordinal())
        activation = parse_pickup(pickup_messages(config)[0])
        said = return_path.read(token_of(activation.sender))
        assert said.kind == ReturnKind.ACCOUNT and said.member_id == member_id(app, "ann@example.org")


def test_without_a_bounce_address_the_envelope_sender_stays_mail_froms(tmp_path):
    config = build_config(tmp_path, SITE)
    with site_app(config) as app:
        ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
        answer(bob, ask(ann))
        fan_out(app)
    assert set(senders(config).values()) == {"noreply@example.test"}


def test_the_token_survives_a_change_of_case_and_is_refused_when_altered(app):
    with app.test_request_context():
        token = ReturnPaths(ReturnKind.NEWSLETTER, 7).token(42, "ann@example.org")
        assert token == token.lower() and len(token) == return_path.TOKEN_LENGTH
        for seen in (token, token.upper(), token.capitalize()):
            assert return_path.read(seen) == return_path.ReturnToken(
                ReturnKind.NEWSLETTER, 42, 7, return_path.address_hash("ann@example.org"))
        alphabet = "abcdefghijklmnopqrstuvwxyz234567"
        for at in range(len(token) - 1):   # the last character carries padding bits only in part
            other = alphabet[(alphabet.index(token[at]) + 1) % 32]
            assert return_path.read(token[:at] + other + token[at + 1:]) is None, at
        assert return_path.read(token[:-1]) is None
        assert return_path.read("x" * return_path.TOKEN_LENGTH) is None
        assert return_path.read("é" * return_path.TOKEN_LENGTH) is None


def test_a_token_made_with_another_key_or_for_another_member_is_not_this_members(app, tmp_path):
    with app.test_request_context():
        ours = ReturnPaths(ReturnKind.NOTIFICATION, 3).token(1, "ann@example.org")
        theirs_for_bob = ReturnPaths(ReturnKind.NOTIFICATION, 3).token(2, "bob@example.org")
        assert ours != theirs_for_bob and return_path.read(theirs_for_bob).member_id == 2
    (tmp_path / "other").mkdir()
    other = build_config(tmp_path / "other", SITE, {"webapp": {"bounce_address": BOUNCE_ADDRESS}})
    with site_app(other) as other_site, other_site.test_request_context():
        forged = ReturnPaths(ReturnKind.NOTIFICATION, 3).token(2, "bob@example.org")
    with app.test_request_context():
        assert return_path.read(forged) is None
