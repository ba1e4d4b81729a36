"""What comes back to a notification's return path, through the drop folder and the worker:
bounces of every shape mark the member's address or count towards the soft limit, the token
finds the member when the bounce does not name the address, a bounce for an address the member
has since left marks nothing, a complaint stops that kind of mail at once, and auto-replies are
recorded and never counted."""

from __future__ import annotations

import pytest

from tests.webapp.inbound import samples
from tests.webapp.inbound.helpers import (
    bounce_state,
    folder_of,
    notification_to_ann,
    records,
    run_worker,
    settings_of,
)
from webapp.accounts.models import User
from webapp.inbound.worker import InboundWorker
from webapp.mail.bounces import is_hard
from webapp.site import return_path
from webapp.site.extensions import db
from webapp.site.links import links_context
from webapp.site.return_path import ReturnKind

ANN = "ann@example.org"


@pytest.mark.parametrize("shape", [samples.postfix, samples.gmail, samples.exchange, samples.exim,
                                   samples.qmail, samples.yahoo])
def test_a_hard_bounce_in_each_servers_shape_marks_the_address_at_once(app, config, shape):
    sent = notification_to_ann(app, config)
    samples.drop(folder_of(config), "b1.eml", shape(sent.content, ANN), sent.return_path)
    assert run_worker(app) == 1
    bouncing, soft, reason = bounce_state(app, ANN)
    assert bouncing and soft == 0 and reason
    [(name, handled, detail, member_id)] = records(app)
    assert (name, handled) == ("b1.eml", "bounce") and "address marked bouncing" in detail
    with app.app_context():
        assert member_id == User.by_email(ANN).id
    assert list(folder_of(config).glob("*.eml")) == []


def test_the_reason_kept_is_the_reports_diagnostic_text(app, config):
    sent = notification_to_ann(app, config)
    samples.drop(folder_of(config), "b1.eml", samples.gmail(sent.content, ANN), sent.return_path)
    run_worker(app)
    reason = bounce_state(app, ANN)[2]
    assert reason.startswith("550-5.1.1 The email account that you tried to reach does not exist")


def test_temporary_failures_count_towards_the_soft_limit(app, config):
    sent = notification_to_ann(app, config)
    full = "smtp; 452 4.2.2 <ann@example.org>: Mailbox full"
    for n in (1, 2):
        samples.drop(folder_of(config), f"d{n}.eml", samples.postfix(
            sent.content, ANN, status="4.2.2", action="delayed", diagnostic=full), sent.return_path)
        run_worker(app)
        assert bounce_state(app, ANN) == (False, n, "452 4.2.2 <ann@example.org>: Mailbox full")
    samples.drop(folder_of(config), "d3.eml", samples.postfix(
        sent.content, ANN, status="5.2.2", diagnostic="smtp; 552 5.2.2 over quota"), sent.return_path)
    run_worker(app)
    assert bounce_state(app, ANN) == (True, 3, "552 5.2.2 over quota")
    assert "soft (RFC 3464)" in records(app)[-1][2]


def test_a_forwarded_bounce_that_does_not_name_the_address_finds_the_member_by_the_token(app, config):
    sent = notification_to_ann(app, config)
    samples.drop(folder_of(config), "f.eml", samples.postfix(sent.content, "annie@elsewhere.example"),
                 sent.return_path)
    run_worker(app)
    assert bounce_state(app, ANN)[0]
    assert "annie@elsewhere.example" in records(app)[0][2]


def test_a_bounce_for_an_address_the_member_has_since_left_marks_nothing(app, config):
    sent = notification_to_ann(app, config)
    with app.app_context():
        db.session.execute(db.update(User).filter_by(email=ANN).values(email="ann@new.example"))
        db.session.commit()
    for name, shape in (("named.eml", samples.postfix), ("forwarded.eml", samples.exim)):
        address = ANN if name == "named.eml" else "annie@elsewhere.example"
        samples.drop(folder_of(config), name, shape(sent.content, address), sent.return_path)
    assert run_worker(app) == 2
    assert bounce_state(app, "ann@new.example") == (False, 0, "")
    assert all("since left" in detail for _n, _h, detail, _m in records(app))


def test_the_token_works_when_an_mta_changed_the_case_of_the_address(app, config):
    sent = notification_to_ann(app, config)
    samples.drop(folder_of(config), "b.eml", samples.qmail(sent.content, ANN), sent.return_path.upper())
    run_worker(app)
    assert bounce_state(app, ANN)[0]


def test_a_complaint_stops_that_kind_of_mail_at_once_and_is_recorded(app, config):
    sent = notification_to_ann(app, config)
    with app.app_context():   # she asked for the newsletter (opt-in): the complaint leaves it on
        db.session.execute(db.update(User).filter_by(email=ANN).values(newsletter=True))
        db.session.commit()
    samples.drop(folder_of(config), "c.eml", samples.arf(sent.content, sent.return_path, ANN),
                 sent.return_path)
    run_worker(app)
    assert settings_of(app, ANN) == ("off", True)
    [(_name, handled, detail, _member)] = records(app)
    assert handled == "complaint" and "ExampleFBL/1.0" in detail and "notifications turned off" in detail
    assert bounce_state(app, ANN) == (False, 0, "")


def test_a_feedback_loop_report_to_the_bare_bounce_address_finds_the_token_in_it(app, config):
    sent = notification_to_ann(app, config)
    samples.drop(folder_of(config), "c.eml", samples.arf(sent.content, sent.return_path, ANN),
                 "bounces@bounce.example.test")
    run_worker(app)
    assert settings_of(app, ANN)[0] == "off" and records(app)[0][1] == "complaint"


@pytest.mark.parametrize("marker", ["Auto-Submitted: auto-replied", "Precedence: auto_reply",
                                    "X-Autoreply: yes"])
def test_an_auto_reply_is_recorded_and_never_counted_as_a_bounce(app, config, marker):
    sent = notification_to_ann(app, config)
    before = sorted(config.pickup.dir.iterdir())
    samples.drop(folder_of(config), "a.eml", samples.out_of_office(ANN, marker), sent.return_path,
                 sender=ANN)
    run_worker(app)
    assert bounce_state(app, ANN) == (False, 0, "")
    assert records(app)[0][1] == "auto_reply"
    assert sorted(config.pickup.dir.iterdir()) == before, "nothing answered"


def test_an_altered_token_is_kept_in_badmail_and_changes_nothing(app, config):
    sent = notification_to_ann(app, config)
    local, _at, domain = sent.return_path.partition("@")
    altered = f"{local[:-2]}{'a' if local[-2] != 'a' else 'b'}{local[-1]}@{domain}"
    samples.drop(folder_of(config), "x.eml", samples.postfix(sent.content, ANN), altered)
    run_worker(app)
    assert bounce_state(app, ANN) == (False, 0, "")
    reason = (folder_of(config) / "badmail" / "x.eml.reason").read_text()
    assert "not a return path this site made" in reason
    assert (folder_of(config) / "badmail" / "x.eml").exists()


def test_the_feedback_file_and_inbound_bounces_share_the_hard_rule():
    assert is_hard("5.1.1", 550) and not is_hard("5.2.2", 552) and not is_hard("4.2.2", 452)
    assert is_hard(None, 550) and is_hard(None, 554, "This user doesn't have a yahoo.com account")
    assert not is_hard(None, 554, "spam detected")


def test_a_complaint_about_the_newsletter_turns_the_newsletter_off_only(app, config):
    sent = notification_to_ann(app, config)
    with app.app_context():
        ann = User.by_email(ANN)
        ann.newsletter = True   # she asked for it (the newsletter is opt-in)
        db.session.commit()
        newsletter_path = return_path.envelope_sender(ReturnKind.NEWSLETTER, 7, ann.id, ANN)
    samples.drop(folder_of(config), "c.eml", samples.arf(sent.content, newsletter_path, ANN),
                 newsletter_path)
    run_worker(app)
    notify_mode, newsletter = settings_of(app, ANN)
    assert newsletter is False and notify_mode != "off"
    assert "newsletter turned off" in records(app)[0][2]


@pytest.mark.parametrize("marker", ["Precedence: bulk", "Precedence: junk",
                                    "Auto-Submitted: auto-generated", "X-Autorespond: on"])
def test_other_auto_reply_markers_are_never_counted_either(app, config, marker):
    sent = notification_to_ann(app, config)
    samples.drop(folder_of(config), "a.eml", samples.out_of_office(ANN, marker), sent.return_path,
                 sender=ANN)
    run_worker(app)
    assert bounce_state(app, ANN) == (False, 0, "") and records(app)[0][1] == "auto_reply"


def test_an_out_of_office_known_only_by_its_subject_is_an_auto_reply(app, config):
    sent = notification_to_ann(app, config)
    message = samples.crlf(f"From: Ann <{ANN}>\nTo: {sent.return_path}\nDate: {samples.DATE}\n"
                           "Subject: Out of Office: New answer\n\nBack on Monday.\n")
    samples.drop(folder_of(config), "a.eml", message, sent.return_path, sender=ANN)
    run_worker(app)
    assert records(app)[0][1] == "auto_reply" and bounce_state(app, ANN) == (False, 0, "")


def test_mail_that_is_none_of_these_is_kept_in_badmail_with_the_reason(app, config):
    sent = notification_to_ann(app, config)
    folder = folder_of(config)
    person = samples.crlf(f"From: Ann <{ANN}>\nTo: {sent.return_path}\nDate: {samples.DATE}\n"
                          "Subject: who are you?\n\nWhy do I get this?\n")
    samples.drop(folder, "p.eml", person, sent.return_path, sender=ANN)
    samples.drop(folder, "s.eml", person, "sales@qa.example.test", sender=ANN)
    assert run_worker(app) == 2
    assert bounce_state(app, ANN) == (False, 0, "")
    assert [(name, handled) for name, handled, _d, _m in records(app)] == [
        ("p.eml", "dropped"), ("s.eml", "dropped")]
    assert "no delivery report" in (folder / "badmail" / "p.eml.reason").read_text()
    assert "not for a known address" in (folder / "badmail" / "s.eml.reason").read_text()
    assert (folder / "badmail" / "p.eml").read_bytes().endswith(person)
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == []


@pytest.mark.parametrize("content", [b"", b"no envelope lines at all\r\n\r\nbody\r\n",
                                     b"X-Sender: <a@example.org>\r\n\r\nno receiver\r\n"])
def test_a_malformed_drop_file_is_kept_in_badmail_with_the_reason(app, config, content):
    folder = folder_of(config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m.eml").write_bytes(content)
    assert run_worker(app) == 1
    [(_name, handled, detail, member_id)] = records(app)
    assert handled == "dropped" and detail.startswith("not a message") and member_id is None
    assert (folder / "badmail" / "m.eml").read_bytes() == content
    assert (folder / "badmail" / "m.eml.reason").read_text().strip()


@pytest.mark.parametrize("alone", [False, True])
def test_a_files_effect_is_part_of_its_batch_until_the_batch_commits(app, config, alone):
    """On SQLite a savepoint outside a transaction commits on its release: the worker begins
    one first, so a batch rolled back (a crash before its commit) leaves no file's effect,
    whether its files are handled together or (after a handler failed) one by one."""
    sent = notification_to_ann(app, config)
    path = samples.drop(folder_of(config), "b.eml", samples.postfix(sent.content, ANN),
                        sent.return_path)
    with app.app_context():
        worker = InboundWorker()
        try:
            with links_context():
                assert worker._record(path, alone=alone).handled == "bounce"
            db.session.rollback()
        finally:
            worker.close()
    assert bounce_state(app, ANN) == (False, 0, "") and records(app) == []


def test_a_file_the_database_refuses_costs_only_that_file(app, config):
    sent = notification_to_ann(app, config)
    with app.app_context():
        bob = User.by_email("bob@example.org")
        bobs_path = return_path.envelope_sender(ReturnKind.NOTIFICATION, 1, bob.id, bob.email)
        db.session.execute(db.text(
            "CREATE TRIGGER refuse_bob BEFORE UPDATE ON users WHEN NEW.email = 'bob@example.org' "
            "BEGIN SELECT RAISE(ABORT, 'bob may not change'); END"))
        db.session.commit()
    folder = folder_of(config)
    samples.drop(folder, "a.eml", samples.postfix(sent.content, ANN), sent.return_path)
    samples.drop(folder, "b.eml", samples.postfix(sent.content, "bob@example.org"), bobs_path)
    assert run_worker(app) == 2
    assert bounce_state(app, ANN)[0] and not bounce_state(app, "bob@example.org")[0]
    [(_a, a_handled, _d, _m), (_b, b_handled, b_detail, _m2)] = records(app)
    assert (a_handled, b_handled) == ("bounce", "dropped")
    assert "the worker failed on it" in b_detail and "bob may not change" in b_detail
    assert "bob may not change" in (folder / "badmail" / "b.eml.reason").read_text()
