"""The newsletter: an admin previews, tests and sends it; the fan-out writes one file per
member with the newsletter on; progress, pause, resume, cancel; the CLI; 403 for others."""

from __future__ import annotations

import email
import email.policy
import re

from tests.webapp.conftest import csrf_token
from tests.webapp.mail.test_outbox import fan_out, set_member
from tests.webapp.qa_helpers import member
from webapp.accounts.models import User
from webapp.mail.models import Newsletter, OutboxDelivery
from webapp.site.database import utcnow
from webapp.site.extensions import db

BODY = "Hello all, **big news**: the site now *threads* notifications.\n\nSee you."


def admin_client(app, config):
    client = member(app, config, "Ada")
    set_member(app, "Ada", is_admin=True, newsletter=True)
    return client


def members(app, count: int, **values) -> None:
    """`count` activated members, with the newsletter on unless `values` say otherwise."""
    values = {"newsletter": True, **values}
    with app.app_context():
        for n in range(count):
            db.session.add(User(email=f"m{n}-{values.get('newsletter', True)}@example.org",
                                display_name=f"Member {n}", password_hash="x",
                                activated_at=utcnow(), **values))
        db.session.commit()


def newsletter_files(config) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(config.pickup.dir.glob("n*.bulk.eml")):
        raw = path.read_bytes()
        body = raw[raw.index(b"From:"):]
        found.append(email.message_from_bytes(body, policy=email.policy.strict))
    return found


def send(client, action: str, subject="News from Q&A", body=BODY):
    page = "/admin/newsletter"
    return client.post(page, data={"csrf_token": csrf_token(client, page), "subject": subject,
                                   "body": body, "action": action, "confirmed": "y"})


def test_preview_shows_both_parts_and_a_test_goes_only_to_the_admin(app, config):
    ada = admin_client(app, config)
    members(app, 3)
    page = send(ada, "preview").get_data(as_text=True)
    text = re.search(r'<pre class="preview-text">(.*?)</pre>', page, re.S).group(1)
    assert "<strong>big news</strong>" in page                               # the HTML part
    assert text.startswith("Hello all, big news: the site now threads notifications.")   # text

    assert "Send to 4 members" in page
    assert send(ada, "test").status_code == 200
    tests = [p for p in config.pickup.dir.glob("*.eml") if b"[test] News from Q&A" in p.read_bytes()]
    assert len(tests) == 1 and b"X-Receiver: <ada@example.org>" in tests[0].read_bytes()
    assert newsletter_files(config) == []


def test_sending_returns_at_once_and_the_fan_out_writes_one_file_per_subscriber(app, config):
    ada = admin_client(app, config)
    members(app, 5)
    members(app, 2, newsletter=False)
    response = send(ada, "send")
    assert response.status_code == 302
    newsletter_id = int(re.search(r"/admin/newsletter/(\d+)", response.location).group(1))
    assert newsletter_files(config) == []          # nothing is written in the request
    fan_out(app)
    mails = newsletter_files(config)
    assert len(mails) == 6 and len({m["To"] for m in mails}) == 6
    assert all(m["Subject"] == "News from Q&A" and m["Precedence"] == "bulk" for m in mails)
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in mails)
    progress = ada.get(f"/admin/newsletter/{newsletter_id}.json").get_json()
    assert progress["written"] == 6 and progress["state"] == "done" and progress["left_out"] == 2
    with app.app_context():
        reasons = db.session.execute(db.select(OutboxDelivery.status, db.func.count())
                                     .group_by(OutboxDelivery.status)).all()
    assert dict(reasons) == {"sent": 6, "opted_out": 2}


def test_the_one_click_link_turns_the_newsletter_off(app, config):
    ada = admin_client(app, config)
    members(app, 1)
    send(ada, "send")
    fan_out(app)
    mail = next(m for m in newsletter_files(config) if "m0-" in str(m["To"]))
    path = re.search(r"<https?://[^/]+(/unsubscribe/[^>]+)>", mail["List-Unsubscribe"]).group(1)
    anonymous = app.test_client()
    assert anonymous.get(path).status_code == 200
    with app.app_context():
        assert db.session.execute(db.select(User.newsletter).filter_by(email="m0-True@example.org")).scalar()
    assert anonymous.post(path).status_code == 200
    with app.app_context():
        assert not db.session.execute(db.select(User.newsletter).filter_by(
            email="m0-True@example.org")).scalar()


def test_pause_holds_the_fan_out_and_resume_and_cancel_do_what_they_say(app, config):
    ada = admin_client(app, config)
    members(app, 4)
    newsletter_id = int(re.search(r"(\d+)$", send(ada, "send").location).group(1))
    page = f"/admin/newsletter/{newsletter_id}"
    assert ada.post(f"{page}/pause", data={"csrf_token": csrf_token(ada, page)}).status_code == 302
    fan_out(app)
    assert newsletter_files(config) == []
    assert ada.get(f"{page}.json").get_json()["state"] == "paused"
    ada.post(f"{page}/resume", data={"csrf_token": csrf_token(ada, page)})
    fan_out(app)
    assert len(newsletter_files(config)) == 5
    second = int(re.search(r"(\d+)$", send(ada, "send", subject="Second").location).group(1))
    ada.post(f"/admin/newsletter/{second}/cancel",
             data={"csrf_token": csrf_token(ada, f"/admin/newsletter/{second}"), "confirm": "yes"})
    fan_out(app)
    assert len(newsletter_files(config)) == 5
    assert ada.get(f"/admin/newsletter/{second}.json").get_json()["state"] == "cancelled"



def test_a_finished_newsletter_stays_done_and_shows_no_buttons(app, config):
    ada = admin_client(app, config)
    members(app, 2)
    newsletter_id = int(re.search(r"(\d+)$", send(ada, "send").location).group(1))
    page = f"/admin/newsletter/{newsletter_id}"
    assert 'data-action="pause"' in ada.get(page).get_data(as_text=True)
    fan_out(app)
    for action in ("pause", "cancel", "resume"):
        shown = ada.post(f"{page}/{action}", data={"csrf_token": csrf_token(ada, page)},
                         follow_redirects=True).get_data(as_text=True)
        assert f"Nothing to {action}: the newsletter is done." in shown
        assert ada.get(f"{page}.json").get_json()["state"] == "done"
    assert len(re.findall(r'<form [^>]*data-when="[^"]*" hidden>', shown)) == 3


def test_members_who_are_not_admins_get_403_everywhere(app, config):
    ada = admin_client(app, config)
    newsletter_id = int(re.search(r"(\d+)$", send(ada, "send").location).group(1))
    bob = member(app, config, "Bob")
    token = csrf_token(bob, "/")
    for path in ("/admin/newsletter", f"/admin/newsletter/{newsletter_id}",
                 f"/admin/newsletter/{newsletter_id}.json"):
        assert bob.get(path).status_code == 403, path
    for path in ("/admin/newsletter", f"/admin/newsletter/{newsletter_id}/pause",
                 f"/admin/newsletter/{newsletter_id}/cancel"):
        assert bob.post(path, data={"csrf_token": token, "subject": "x", "body": BODY,
                                    "action": "send"}).status_code == 403, path
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Newsletter)).scalar() == 1


def test_the_broadcast_command_writes_every_file_with_a_progress_bar(app, config, tmp_path):
    admin_client(app, config)
    members(app, 30)
    body = tmp_path / "body.md"
    body.write_text(BODY)
    result = app.test_cli_runner().invoke(args=["broadcast", "--subject", "CLI news",
                                                "--body-file", str(body)])
    assert result.exit_code == 0, result.output
    assert "newsletter 1 to 31 members" in result.output and "done, 31 written" in result.output
    assert len(newsletter_files(config)) == 31
