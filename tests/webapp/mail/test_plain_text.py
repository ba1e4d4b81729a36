"""A mail's text part from its HTML: readable text with its links as numbered footnotes."""

from __future__ import annotations

from webapp.mail.plain_text import as_text
from webapp.posts.markdown import render

SITE = "https://qa.example.org"


def test_links_become_numbered_footnotes_listed_at_the_end():
    text = as_text(render("Read [the docs](https://example.org/docs), the [FAQ](/faq) and "
                          "[the docs](https://example.org/docs) again."), SITE)
    assert text == ("Read the docs [1], the FAQ [2] and the docs [1] again.\n\n"
                    "[1] https://example.org/docs\n[2] https://qa.example.org/faq")


def test_no_markdown_signs_are_left_and_lists_and_code_keep_their_shape():
    text = as_text(render("**Big** *news*\n\n- one\n- two\n\n```\nif x:\n    y  = 1\n```"), SITE)
    assert "**" not in text and "*news*" not in text and text.startswith("Big news")
    assert "  * one\n  * two" in text and "if x:\n    y  = 1" in text


def test_a_link_that_shows_its_address_gets_no_footnote():
    assert as_text(render("See <https://example.org/x>."), SITE) == "See https://example.org/x."


def test_markup_typed_in_the_text_stays_text():
    assert as_text(render("Use <b>bold</b> & more"), SITE) == "Use <b>bold</b> & more"
