"""What people see of mail that came back: the member's settings page says since when their
address is marked bouncing and what the receiving server said; the admins' dashboard shows
bounces, complaints and replies per day and the complaint rate of each day."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.webapp.accounts.test_auth import login
from tests.webapp.admin.test_moderation import admin
from tests.webapp.inbound import samples
from tests.webapp.inbound.helpers import folder_of, notification_to_ann, run_worker
from webapp.accounts.models import User
from webapp.inbound.models import InboundMessage
from webapp.site.database import utcnow
from webapp.site.extensions import db

ANN = "ann@example.org"


def text_of(page) -> str:
    """The page's words (a response or its HTML), as a person reads them: tags out, spaces folded."""
    if not isinstance(page, str):
        assert page.status_code == 200
        page = page.get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def ann_logged_in(app):
    client = app.test_client()
    assert login(client, email=ANN).status_code == 302
    return client


def test_the_settings_page_says_when_and_why_the_address_was_marked_bouncing(app, config):
    sent = notification_to_ann(app, config)
    samples.drop(folder_of(config), "b.eml", samples.exchange(sent.content, ANN), sent.return_path)
    run_worker(app)
    with app.app_context():
        marked = User.by_email(ANN).bouncing_at.strftime("%Y-%m-%d %H:%M")
    page = text_of(ann_logged_in(app).get("/account/settings"))
    assert (f"Since {marked} UTC we send no notifications or newsletters to this address: mail to "
            "it came back, the receiving server said “550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
            "Recipient not found by SMTP address lookup”") in page


def test_the_settings_page_tells_of_temporary_failures_while_mail_still_goes(app, config):
    sent = notification_to_ann(app, config)
    samples.drop(folder_of(config), "d.eml", samples.postfix(
        sent.content, ANN, status="4.2.2", action="delayed",
        diagnostic="smtp; 452 4.2.2 Mailbox full"), sent.return_path)
    run_worker(app)
    page = text_of(ann_logged_in(app).get("/account/settings"))
    assert "Mail to this address failed 1 time lately (last: “452 4.2.2 Mailbox full”); " \
           "it is still being sent." in page
    assert "we send no notifications" not in page


def test_a_member_with_no_failures_sees_nothing_of_bounces(app, config):
    notification_to_ann(app, config)
    page = text_of(ann_logged_in(app).get("/account/settings"))
    assert "failed" not in page and "came back" not in page


def figures_row(page: str, day: str) -> list[str]:
    row = re.search(rf'<tr data-day="{day}">(.*?)</tr>', page, re.S).group(1)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_admins_see_what_came_back_per_day_and_the_complaint_rate(app, config):
    sent = notification_to_ann(app, config)   # one bulk mail sent today
    folder = folder_of(config)
    samples.drop(folder, "1.eml", samples.arf(sent.content, sent.return_path, ANN), sent.return_path)
    samples.drop(folder, "2.eml", samples.postfix(sent.content, ANN), sent.return_path)
    samples.drop(folder, "3.eml", samples.out_of_office(ANN), sent.return_path, sender=ANN)
    samples.drop(folder, "4.eml", b"Subject: hello\r\n\r\nfor nobody\r\n", "sales@qa.example.test")
    run_worker(app)
    with app.app_context():   # a reply as the replies handler records one
        db.session.add(InboundMessage(file_name="5.eml", handled="reply", detail="posted"))
        db.session.commit()
    today = utcnow().date().isoformat()
    page = admin(app).get("/admin/queue").get_data(as_text=True)
    assert "Mail that came back" in page
    assert figures_row(page, today) == [today, "1", "1", "1", "1", "1", "1", "100.00%"]
    assert re.search(r'class="error">\s*100.00%', page), "a rate over the limit stands out"
    assert (f"{ANN}: feedback report (abuse) from ExampleFBL/1.0 about the notification of "
            "event") in text_of(page)


def test_a_day_without_bulk_mail_has_no_rate_and_members_cannot_see_the_figures(app, config):
    notification_to_ann(app, config)
    page = admin(app).get("/admin/queue").get_data(as_text=True)
    today, yesterday = utcnow().date(), utcnow().date() - timedelta(days=1)
    assert figures_row(page, today.isoformat()) == [today.isoformat(), *"000001", "0.00%"]
    assert figures_row(page, yesterday.isoformat()) == [yesterday.isoformat(), *"000000", "-"]
    assert "Newest complaints" not in page
    assert ann_logged_in(app).get("/admin/queue").status_code == 403
