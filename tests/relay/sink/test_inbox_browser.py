"""The sink's web inbox in a real browser (headless Chromium): mail arrives, opens, links work."""

from __future__ import annotations

import smtplib

import pytest
from playwright.sync_api import expect

from spooler.message import Address, Notification, build
from tests.conftest import needs_chromium
from tests.relay.sink.conftest import indexed

pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


def test_a_message_through_the_sink_appears_and_opens_with_a_clickable_link(sink, inbox, page):
    page.goto(inbox.url)
    assert "No mail yet" in page.inner_text("main")
    following(page)
    link = f"{inbox.url}/?activate=" + "Zx9_-" * 30   # a link cut in three on the wire
    script = "<script>document.getElementById('mark').textContent = 'a script ran'</script>"
    message = build(Notification(
        sender=Address.parse("Q&A <noreply@example.test>"), to=[Address("zoe@example.org", "Zoë")],
        subject="Activate your account", text=f"Hello Zoë,\n\nopen this link:\n\n{link}\n",
        html=f'<p id="mark">no script ran</p>{script}<p><a id="go" href="{link}">Activate</a></p>',
    )).content
    with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=10) as client:
        client.sendmail("noreply@example.test", ["zoe@example.org"], message)

    row = page.locator("table.messages tbody tr")
    expect(row).to_have_count(1)   # into the empty inbox, without a reload
    expect(page.locator("#no-mail")).to_have_count(0)
    assert "Zoë <zoe@example.org>" in row.inner_text() and "Q&A <noreply@example.test>" in row.inner_text()
    page.click("text=Activate your account")

    assert "Hello Zoë," in page.inner_text("pre.body")
    anchor = page.locator("pre.body a")
    assert anchor.inner_text() == link and anchor.get_attribute("href") == link
    with page.context.expect_page() as opened:
        anchor.click()
    opened.value.wait_for_load_state()
    assert opened.value.url == link  # the whole link, in a tab of its own
    opened.value.close()

    page.click("nav.tabs >> text=HTML")
    frame = page.frame_locator("iframe.html")
    assert frame.locator("#mark").inner_text() == "no script ran"
    with page.context.expect_page() as opened:
        frame.locator("#go").click()
    opened.value.wait_for_load_state()
    assert opened.value.url == link


def test_clear_inbox_empties_it_in_the_browser(sink, inbox, page):
    sink.maildir.store("a@example.test", ["b@example.test"], b"Subject: to be cleared\n\nx\n")
    indexed(inbox, 1)
    page.goto(inbox.url)
    assert page.locator("table.messages tbody tr").count() == 1
    page.click("button.clear")
    assert "No mail yet" in page.inner_text("main")
    assert sink.maildir.count() == 0


def store(sink, n: int, subject: str = "Message {i}", sender: str = "noreply@example.test",
          body: str = "Hello.") -> None:
    """n messages in the sink's Maildir, oldest first (the index numbers them as they come)."""
    for i in range(n):
        sink.maildir.store(sender, [f"user{i}@example.test"],
                           (f"From: {sender}\nTo: user{i}@example.test\nSubject: "
                            f"{subject.format(i=i)}\n\n{body}\n").encode())


def subjects(page) -> list[str]:
    return page.locator("table.messages td.subject a").all_inner_texts()


def test_search_by_sender_and_by_a_word_in_the_body(sink, inbox, page):
    store(sink, 2, subject="From Alice {i}", sender="alice@example.test", body="about the invoice")
    store(sink, 3, subject="From Bob {i}", sender="bob@example.test", body="about lunch")
    indexed(inbox, 5)
    page.goto(inbox.url)
    page.fill("input[name=q]", "from:alice")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#total")).to_have_text("2 found")
    assert subjects(page) == ["From Alice 1", "From Alice 0"]
    assert page.input_value("input[name=q]") == "from:alice"   # the search stays in its box
    page.fill("input[name=q]", "lunch")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#total")).to_have_text("3 found")
    assert subjects(page) == ["From Bob 2", "From Bob 1", "From Bob 0"]
    page.click("details.help summary")
    expect(page.locator("details.help")).to_contain_text("subject:")


def test_older_links_page_through_120_messages_each_seen_once_newest_first(sink, inbox, page):
    store(sink, 120)
    indexed(inbox, 120)
    page.goto(inbox.url)
    expect(page.locator("#total")).to_have_text("120 messages")
    seen = subjects(page)
    while page.locator("a.older").count():
        with page.expect_navigation():
            page.click("a.older")
        seen += subjects(page)
    assert seen == [f"Message {i}" for i in range(119, -1, -1)]
    page.click("a.newest")
    expect(page.locator("table.messages td.subject a").first).to_have_text("Message 119")


def test_unread_rows_are_bold_until_opened_and_mark_unread_makes_them_bold_again(sink, inbox, page):
    store(sink, 2)
    indexed(inbox, 2)
    page.goto(inbox.url)
    expect(page.locator("#unread")).to_have_text("2 unread")
    assert page.title() == "(2) Inbox · local sink"
    bold = page.locator("tr.unread td.from").first.evaluate("e => getComputedStyle(e).fontWeight")
    assert int(bold) >= 600
    page.click("text=Message 1")
    expect(page.locator("#unread")).to_have_text("1 unread")
    page.click("a.home")
    expect(page.locator("tr.read")).to_have_count(1)
    assert page.locator("tr.read td.subject a").inner_text() == "Message 1"
    assert page.locator("tr.read td.from").evaluate("e => getComputedStyle(e).fontWeight") == "400"
    page.check("tr.read input[type=checkbox]")
    page.click("button[value=unread]")
    expect(page.locator("tr.unread")).to_have_count(2)
    expect(page.locator("#unread")).to_have_text("2 unread")


def test_delete_selected_then_all_found_then_clear(sink, inbox, page):
    store(sink, 3, subject="Receipt {i}", body="a receipt")
    store(sink, 2, subject="News {i}", body="a newsletter")
    indexed(inbox, 5)
    page.goto(inbox.url)
    page.check("tr:has-text('News 1') input[type=checkbox]")
    page.click("button[value=delete]")
    expect(page.locator("#total")).to_have_text("4 messages")
    assert "News 1" not in subjects(page) and sink.maildir.count() == 4
    page.check("#pick-all")
    page.click("button[value=read]")
    expect(page.locator("#unread")).to_have_text("0 unread")

    page.goto(f"{inbox.url}/?q=receipt")
    page.click("text=Delete all 3 found")
    expect(page.locator("h1")).to_have_text("Delete 3 messages?")   # a second step, no script
    assert sink.maildir.count() == 4
    page.click("button:has-text('Delete 3 found')")
    expect(page.locator("#total")).to_have_text("0 found")
    assert sink.maildir.count() == 1

    page.click("text=all messages")
    assert subjects(page) == ["News 0"]
    page.click("button.clear")
    expect(page.locator("#no-mail")).to_be_visible()
    assert sink.maildir.count() == 0


def test_a_message_sent_over_smtp_appears_without_a_reload_and_the_counts_follow(sink, inbox, page):
    store(sink, 1, subject="Already here")
    indexed(inbox, 1)
    errors = console_errors(page)
    page.goto(inbox.url)
    following(page)
    page.evaluate("window.notReloaded = true")
    send(sink, "Fresh mail")
    expect(page.locator("table.messages td.subject a").first).to_have_text("Fresh mail", timeout=5000)
    expect(page.locator("#total")).to_have_text("2 messages")
    expect(page.locator("#unread")).to_have_text("2 unread")
    assert page.title() == "(2) Inbox · local sink"
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("tr:has-text('Fresh mail') td.from").inner_text() == "Q&A <noreply@example.test>"

    inbox.index.mark_read(inbox.index.names("Fresh"))   # read elsewhere (another tab, the API)
    expect(page.locator("#unread")).to_have_text("1 unread")

    page.goto(f"{inbox.url}/?q=Already")   # a search: a bar says so instead of a row
    following(page)
    send(sink, "Another")
    expect(page.locator("#new-bar")).to_have_text("1 new message — show")
    assert subjects(page) == ["Already here"]
    page.click("#new-bar a")
    expect(page.locator("#total")).to_have_text("1 found")
    assert errors == []   # nothing the CSP refused, no script error


def console_errors(page) -> list[str]:
    """What the page reports as errors from now on (a CSP refusal, a script error)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def following(page) -> None:
    """Until the page's live stream is open: what arrives from now on reaches the page."""
    expect(page.locator("body")).to_have_attribute("data-live", "open")


def send(sink, subject: str) -> None:
    message = build(Notification(
        sender=Address.parse("Q&A <noreply@example.test>"), to=[Address("zoe@example.org", "Zoë")],
        subject=subject, text="Hello.\n")).content
    with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=10) as client:
        client.sendmail("noreply@example.test", ["zoe@example.org"], message)


@pytest.mark.parametrize("width, height", [(390, 844), (1280, 800)])
def test_list_search_help_and_message_fit_the_width_without_sideways_scrolling(sink, inbox, page,
                                                                               width, height):
    long = "averyveryverylongaddresspartthatdoesnotbreak" * 2
    sink.maildir.store(f"{long}@example.test", [f"{long}@example.org"],
                       (f"From: {long}@example.test\nTo: {long}@example.org\nSubject: A subject "
                        f"with {long}\n\nSee https://example.test/{long}/{long}\n").encode())
    indexed(inbox, 1)
    page.set_viewport_size({"width": width, "height": height})
    errors = console_errors(page)
    page.goto(inbox.url)
    page.wait_for_load_state()
    page.click("details.help summary")
    overflow = "document.documentElement.scrollWidth"
    assert page.evaluate(overflow) <= width
    cards = page.locator("table.messages thead").is_hidden()
    assert cards == (width < 640)          # a phone gets cards, a desktop a table
    assert page.locator("td.subject").bounding_box()["width"] > (300 if cards else 200)
    page.click("td.subject a")
    for tab in ("Text", "Headers", "Source", "Links"):
        page.click(f"nav.tabs >> text={tab}")
        expect(page.locator("nav.tabs .current")).to_contain_text(tab)
        page.wait_for_load_state()   # its stylesheet too, before measuring
        assert page.evaluate(overflow) <= width, tab
    assert errors == []
