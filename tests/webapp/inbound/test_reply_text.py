"""The words of a reply: what the member wrote above the quote, as Gmail, Outlook, Apple Mail
and Thunderbird quote, without a "-- " signature; an HTML-only reply made text without its
quoted blockquote; attachments left out with a note."""

from __future__ import annotations

from email.message import EmailMessage

from webapp.inbound.reply_text import reply_text

NOTIFICATION = "> Bob answered your question\n> Use `for line in f:` on the open file.\n"


def plain(text: str) -> EmailMessage:
    message = EmailMessage()
    message.set_content(text)
    return message


def html(markup: str) -> EmailMessage:
    message = EmailMessage()
    message.set_content(markup, subtype="html")
    return message


def test_gmail_quote_header_and_quoted_lines_are_cut_and_indented_code_stays():
    text = ("Use a context manager:\n\n    with open(path) as f:\n        data = f.read()\n\n"
            "On Sun, Dec 6, 2026 at 10:00 AM Q&A <noreply@example.test> wrote:\n\n" + NOTIFICATION)
    assert reply_text(plain(text)).post() == (
        "Use a context manager:\n\n    with open(path) as f:\n        data = f.read()")


def test_outlook_original_message_block_is_cut():
    text = ("Thanks, that works for me.\n\n-----Original Message-----\n"
            "From: Q&A <noreply@example.test>\nSent: Sunday, December 6, 2026 10:00 AM\n"
            "To: Ann <ann@example.org>\nSubject: New answer to your question\n\nBob answered\n")
    assert reply_text(plain(text)).words == "Thanks, that works for me."


def test_outlook_from_sent_block_under_a_rule_is_cut():
    text = ("Thanks, that works for me.\n\n________________________________\n"
            "From: Q&A <noreply@example.test>\nSent: Sunday, December 6, 2026 10:00 AM\n"
            "To: Ann <ann@example.org>\nSubject: New answer to your question\n\nBob answered\n")
    assert reply_text(plain(text)).words == "Thanks, that works for me."


def test_outlook_from_sent_block_alone_is_cut():
    text = ("Thanks, that works for me.\n\nFrom: Q&A <noreply@example.test>\n"
            "Sent: Sunday, December 6, 2026 10:00 AM\nTo: Ann <ann@example.org>\n"
            "Subject: New answer to your question\n\nBob answered\n")
    assert reply_text(plain(text)).words == "Thanks, that works for me."


def test_apple_mail_quote_header_with_at_time_is_cut():
    text = ("Works on my Mac too, thanks.\n\n"
            "> On 6 Dec 2026, at 10:00, Q&A <noreply@example.test> wrote:\n> \n" + NOTIFICATION)
    assert reply_text(plain(text)).words == "Works on my Mac too, thanks."


def test_thunderbird_quote_header_is_cut():
    text = "Thunderbird user here: agreed.\n\nOn 12/6/26 10:00 AM, Q&A wrote:\n" + NOTIFICATION
    assert reply_text(plain(text)).words == "Thunderbird user here: agreed."


def test_a_signature_after_dash_dash_space_is_cut():
    text = "Plain answer text here.\n\n-- \nAnn Example\nhttps://ann.example.org\n"
    assert reply_text(plain(text)).words == "Plain answer text here."


def test_a_reply_that_is_only_the_quote_is_empty():
    text = "On Sun, Dec 6, 2026 at 10:00 AM Q&A <noreply@example.test> wrote:\n" + NOTIFICATION
    assert reply_text(plain(text)).words == ""


def test_an_html_only_gmail_reply_is_made_text_without_its_quote():
    message = html(
        "<div dir='ltr'>An <b>HTML</b> reply with a <a href='https://docs.python.org/'>link</a>.</div>"
        "<br><div class='gmail_quote'><div class='gmail_attr'>On Sun, Dec 6, 2026 at 10:00 AM "
        "Q&amp;A &lt;noreply@example.test&gt; wrote:<br></div>"
        "<blockquote class='gmail_quote'>Bob answered your question</blockquote></div>")
    assert reply_text(message).words == "An HTML reply with a [link](https://docs.python.org/)."


def test_an_html_only_apple_mail_reply_loses_its_cited_blockquote():
    message = html("<p>Apple HTML reply.</p><div><br><blockquote type='cite'><div>On Dec 6, 2026, "
                   "at 10:00, Q&amp;A &lt;noreply@example.test&gt; wrote:</div>"
                   "<div>Bob answered your question</div></blockquote></div>")
    assert reply_text(message).words == "Apple HTML reply."


def test_the_plain_part_is_preferred_to_the_html_one():
    message = plain("The plain words.")
    message.add_alternative("<p>The <i>html</i> words.</p>", subtype="html")
    assert reply_text(message).words == "The plain words."


def test_attachments_are_left_out_with_a_note():
    message = plain("With two files attached.")
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="shot.png")
    message.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename="data.csv")
    text = reply_text(message)
    assert (text.words, text.attachments) == ("With two files attached.", 2)
    assert text.post() == "With two files attached.\n\n(2 attachments not posted)"


def test_one_attachment_is_named_in_the_singular():
    message = plain("With one file.")
    message.add_attachment(b"x", maintype="application", subtype="octet-stream", filename="a.bin")
    assert reply_text(message).post().endswith("(1 attachment not posted)")


def test_a_charset_python_does_not_know_is_read_as_utf8():
    message = EmailMessage()
    message["Content-Type"] = "text/plain; charset=x-unknown-8bit"
    message.set_payload("Caf\u00e9 words.".encode())
    assert reply_text(message).words == "Caf\u00e9 words."
