"""The daily digest: one mail per member per day listing what the fan-out held for them,
exactly once however often send-digests runs and wherever it is killed."""

from __future__ import annotations

import email
import email.policy
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from tests.configs import SITE, config_file
from tests.webapp.conftest import reconfigure
from tests.webapp.mail.test_outbox import fan_out, follow, notifications, set_member
from tests.webapp.qa_helpers import answer, ask, comment, member, press, write_article
from webapp.accounts.models import User
from webapp.mail.digest import send_digests
from webapp.mail.models import Digest, OutboxDelivery
from webapp.posts.models import Subscription
from webapp.site.database import utcnow
from webapp.site.extensions import db

DAY = date(2026, 3, 14)


def run(app, day: date = DAY, **options):
    with app.app_context():
        return send_digests(day, **options)


def digests(config, day: date = DAY) -> dict[str, email.message.EmailMessage]:
    """The digests of `day` in pickup by recipient address, parsed strictly."""
    found = {}
    for path in sorted(config.pickup.dir.glob(f"d*-{day:%Y%m%d}.bulk.eml")):
        raw = path.read_bytes()
        mail = email.message_from_bytes(raw.split(b"\r\n", 2)[2], policy=email.policy.strict)
        assert mail["To"].addresses[0].addr_spec not in found
        found[mail["To"].addresses[0].addr_spec] = mail
    return found


def text_of(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def user_id(app, name: str) -> int:
    with app.app_context():
        return db.session.execute(db.select(User.id).filter_by(display_name=name)).scalar_one()


def test_a_digest_member_gets_one_mail_listing_the_new_answers_and_comments(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann, title="Why is my WAL file growing?")
    article_id = write_article(ann, title="Notes on fsync")
    set_member(app, "Ann", notify_mode="daily")
    first = answer(bob, question_id, body="Run a **checkpoint**: `PRAGMA wal_checkpoint`.")
    second = answer(bob, question_id, body="Or close the long reader.")
    remark = comment(bob, article_id, body="Good notes on *fsync*.")
    fan_out(app)
    assert notifications(config) == []
    result = run(app)
    assert (result.placed, result.items) == (1, 3)
    mail = digests(config)["ann@example.org"]
    assert mail["Subject"] == "Your daily digest: 2 new answers and 1 new comment"
    text = text_of(mail)
    assert "Hello Ann," in text and "Why is my WAL file growing?" in text and "Notes on fsync" in text
    assert text.count("Bob answered:") == 2 and "Bob commented:" in text
    assert "> Run a **checkpoint**" in text
    for link in (f"/questions/{question_id}#answer-{first}", f"/questions/{question_id}#answer-{second}",
                 f"/articles/{article_id}#comment-{remark}"):
        assert f"http://qa.example.test{link}" in text
    assert "<strong>checkpoint</strong>" in mail.get_body(("html",)).get_content()
    ann_id = user_id(app, "Ann")
    assert mail["Message-ID"] == f"<d{ann_id}-20260314@qa.example.test>"
    assert mail["Precedence"] == "bulk" and mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["List-Unsubscribe"][1:-1] in text and "Manage your notifications" in text
    assert "http://qa.example.test/account/settings" in text
    raw = (config.pickup.dir / f"d{ann_id}-20260314.bulk.eml").read_bytes()
    assert b"\r\nList-Unsubscribe: <http://qa.example.test/unsubscribe/" in raw   # never encoded


def test_a_second_run_the_same_day_sends_nothing_and_the_next_day_only_new_items(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    set_member(app, "Ann", notify_mode="daily")
    answer(bob, question_id, body="The first answer.")
    fan_out(app)
    assert run(app).placed == 1
    answer(bob, question_id, body="The second answer.")
    fan_out(app)
    again = run(app)
    assert (again.placed, again.lost) == (0, 0)
    assert len(list(config.pickup.dir.glob("d*.eml"))) == 1
    next_day = DAY + timedelta(days=1)
    assert run(app, next_day).placed == 1
    text = text_of(digests(config, next_day)["ann@example.org"])
    assert "The second answer." in text and "The first answer." not in text
    assert run(app, next_day + timedelta(days=1)).placed == 0


def test_nothing_is_sent_when_there_is_nothing(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    set_member(app, "Ann", notify_mode="daily")
    question_id = ask(ann)
    fan_out(app)
    assert run(app).placed == 0
    answer(bob, question_id)   # Ann is instant by default: her mail came at once
    set_member(app, "Ann", notify_mode="instant")
    fan_out(app)
    assert run(app).placed == 0 and list(config.pickup.dir.glob("d*.eml")) == []
    with app.app_context():
        assert db.session.execute(db.select(Digest)).scalars().all() == []


def test_items_over_an_instant_members_daily_cap_land_in_their_digest(app, config):
    reconfigure(app, max_notifications_per_day=2)
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    for n in range(3):
        answer(bob, question_id, body=f"Answer number {n}.")
    fan_out(app)
    assert len(notifications(config)) == 2
    run(app)
    mail = digests(config)["ann@example.org"]
    assert mail["Subject"] == "Your daily digest: 1 new answer"
    assert "Answer number 2." in text_of(mail) and "Answer number 0." not in text_of(mail)


def test_deleted_posts_are_left_out_and_a_digest_of_only_those_is_not_sent(app, config):
    ann, bob, cat = member(app, config, "Ann"), member(app, config, "Bob"), member(app, config, "Cat")
    question_id = ask(ann)
    set_member(app, "Ann", notify_mode="daily")
    kept = answer(bob, question_id, body="This one stays.")
    deleted = answer(cat, question_id, body="This one is deleted.")
    fan_out(app)
    press(cat, f"/questions/{question_id}", f"/answers/{deleted}/delete", confirm="yes")
    result = run(app)
    assert (result.placed, result.items, result.dropped) == (1, 1, 1)
    text = text_of(digests(config)["ann@example.org"])
    assert f"#answer-{kept}" in text and "deleted" not in text and f"#answer-{deleted}" not in text
    with app.app_context():
        statuses = dict(db.session.execute(db.select(OutboxDelivery.event_id, OutboxDelivery.status)
                                           .join(User).where(User.display_name == "Ann")).all())
    assert sorted(statuses.values()) == ["digest", "post_gone"]


def test_members_with_notifications_off_or_bouncing_get_no_digest(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    for name in ("Cat", "Dan"):
        member(app, config, name)
    question_id = ask(ann)
    for name in ("Ann", "Cat", "Dan"):
        set_member(app, name, notify_mode="daily")
    for name in ("Cat", "Dan"):
        follow(app, name, "question", question_id)
    answer(bob, question_id)
    fan_out(app)
    set_member(app, "Cat", notify_mode="off")
    set_member(app, "Dan", bouncing_at=utcnow())
    result = run(app)
    assert list(digests(config)) == ["ann@example.org"] and result.dropped == 1
    # Cat's pending item was dropped: turning the digest back on brings back no old news.
    set_member(app, "Cat", notify_mode="daily")
    set_member(app, "Dan", bouncing_at=None)
    next_day = DAY + timedelta(days=1)
    run(app, next_day)
    assert list(digests(config, next_day)) == ["dan@example.org"]


def test_past_the_listed_items_the_mail_says_how_many_more(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    set_member(app, "Ann", notify_mode="daily")
    for n in range(3):
        answer(bob, question_id, body=f"Answer number {n}.")
    fan_out(app)
    assert run(app, listed=2).items == 3
    mail = digests(config)["ann@example.org"]
    text = text_of(mail)
    assert mail["Subject"] == "Your daily digest: 3 new answers"
    assert "Answer number 0." not in text and "Answer number 2." in text
    assert "and 1 more" in text and "http://qa.example.test/following" in text
    with app.app_context():   # all three were dealt with by this digest
        assert db.session.execute(db.select(OutboxDelivery.digest_id).join(User).where(
            User.display_name == "Ann")).scalars().all() == [1, 1, 1]


def test_the_one_click_link_turns_notifications_off_and_a_get_changes_nothing(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    set_member(app, "Ann", notify_mode="daily")
    answer(bob, question_id)
    fan_out(app)
    run(app)
    link = digests(config)["ann@example.org"]["List-Unsubscribe"][1:-1]
    path = link.removeprefix("http://qa.example.test")
    stranger = app.test_client()
    page = stranger.get(path)
    assert page.status_code == 200
    assert "Stop getting mail about what you follow" in page.get_data(as_text=True)
    assert _mode(app, "Ann") == "daily"
    done = stranger.post(path, data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200 and "no more mail about what you follow" in done.get_data(as_text=True)
    assert _mode(app, "Ann") == "off"
    assert stranger.post(path[:-3] + "xyz").status_code == 404


def _mode(app, name: str) -> str:
    with app.app_context():
        return db.session.execute(db.select(User.notify_mode).filter_by(display_name=name)).scalar_one()


MEMBERS = 300


def daily_followers(app, question_id: int, count: int) -> list[int]:
    """`count` activated members on the daily digest, each following the question; their ids."""
    with app.app_context():
        users = [User(email=f"m{n}@example.org", display_name=f"M{n}", password_hash="x",
                      activated_at=utcnow(), notify_mode="daily") for n in range(count)]
        db.session.add_all(users)
        db.session.flush()
        db.session.add_all(Subscription(user_id=u.id, kind="question", target_id=question_id)
                           for u in users)
        db.session.commit()
        return [u.id for u in users]


def test_a_run_killed_mid_way_still_gives_exactly_one_digest_per_member(app, config, tmp_path):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann)
    ids = daily_followers(app, question_id, MEMBERS)
    for n in range(2):
        answer(bob, question_id, body=f"Answer number {n}.")
    fan_out(app)
    env = {**os.environ, "PICKUP_RELAY_CONFIG": str(config_file(tmp_path, SITE))}   # the app's config
    command = [str(Path(sys.executable).parent / "flask"), "--app", "webapp", "send-digests",
               "--day", f"{DAY:%Y-%m-%d}", "--batch", "20"]
    rng = random.Random()
    killed = 0
    for _attempt in range(3):   # each killed at a random point: k batches in, plus a moment
        process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        batches = rng.randrange(0, 8)
        for line in process.stderr:
            if "starting" in line or "placed through" in line:
                if batches == 0:
                    break
                batches -= 1
        time.sleep(rng.uniform(0.0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.stderr.close()
        killed += process.wait() == -signal.SIGKILL
    assert killed >= 1
    final = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert final.returncode == 0, final.stderr
    placed = sorted(p.name for p in config.pickup.dir.glob("d*.bulk.eml"))
    assert placed == sorted(f"d{i}-{DAY:%Y%m%d}.bulk.eml" for i in ids)
    assert [p.name for p in config.pickup.dir.iterdir() if p.name.startswith(".")] == []
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Digest)).scalar_one() == MEMBERS
        assert db.session.execute(db.select(db.func.count()).select_from(OutboxDelivery).where(
            OutboxDelivery.status == "digest", OutboxDelivery.digest_id.is_(None))).scalar_one() == 0
    for mail in digests(config).values():
        assert mail["Subject"] == "Your daily digest: 2 new answers"
