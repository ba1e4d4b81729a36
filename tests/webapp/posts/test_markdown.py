"""Markdown rendering: what members write comes out as safe HTML, formatting kept."""

from __future__ import annotations

import re

import pytest

from webapp.posts.markdown import clean, render

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](java&#115;cript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    '<iframe src="https://evil.example"></iframe>',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<svg onload=alert(1)>",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>body{display:none}</style>",
    '<form action="https://evil.example"><input name="p"></form>',
    "[x](vbscript:msgbox(1))",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
]


def tags_and_attributes(html: str) -> list[str]:
    return re.findall(r"<\s*([a-zA-Z][^\s>/]*)([^>]*)>", html)


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_input_renders_without_script_events_or_dangerous_links(source):
    html = render(source)
    for tag, attributes in tags_and_attributes(html):
        assert tag.lower() in {"p", "a", "code", "pre", "em", "strong"}, html
        assert not re.search(r"\son\w+\s*=", attributes, re.I), html
        assert "style" not in attributes.lower(), html
    hrefs = [h for _, attributes in tags_and_attributes(html)
             for h in re.findall(r'href="([^"]*)"', attributes)]
    assert all(h.startswith(("http://", "https://", "mailto:", "/")) for h in hrefs), html
    assert "<script" not in html.lower() and "<iframe" not in html.lower()


def test_links_are_marked_nofollow_ugc():
    html = render("[the docs](https://docs.example.org/page)")
    assert html == ('<p><a href="https://docs.example.org/page" rel="nofollow ugc">the docs</a></p>\n')


def test_code_blocks_keep_their_indentation_and_show_markup_as_text():
    html = render("```python\nif x:\n    print('<b>')\n```")
    assert "<pre><code>if x:\n    print('&lt;b&gt;')\n</code></pre>" in html


def test_ordinary_formatting_survives():
    html = render("# Title\n\n*a* **b** ~~c~~ `d`\n\n- one\n- two\n\n> quoted\n\n| h |\n|---|\n| v |")
    for piece in ("<h1>Title</h1>", "<em>a</em>", "<strong>b</strong>", "<s>c</s>", "<code>d</code>",
                  "<li>one</li>", "<blockquote>", "<table>", "<td>v</td>"):
        assert piece in html, piece


def test_an_image_becomes_a_link_to_it_not_a_remote_load():
    assert render("![a cat](https://img.example/cat.png)") == (
        '<p><a href="https://img.example/cat.png" rel="nofollow ugc">a cat</a></p>\n')


ELSEWHERE = [
    "[x](//evil.example/login)",
    "[x](///evil.example)",
    "[x](<//evil.example>)",
    "[x]: //evil.example\n\nSee [x].",
    "![a cat](//evil.example/cat.png)",
]


@pytest.mark.parametrize("source", ELSEWHERE)
def test_a_relative_looking_link_to_another_host_is_dropped(source):
    html = render(source)
    assert "evil.example" not in html, html
    assert "href" not in html, html


@pytest.mark.parametrize("href", ["//evil.example", " //evil.example", "/\\evil.example", "\\\\evil.example",
                                  "/\t/evil.example", "\n//evil.example"])
def test_html_cleaned_for_a_page_loses_hrefs_a_browser_reads_as_another_host(href):
    html = clean(f'<a href="{href}">x</a>')
    assert html == '<a rel="nofollow ugc">x</a>', html


def test_links_within_the_site_stay():
    for target in ("/questions/5", "/questions/5#answer-3", "#answer-3", "../articles/2", "?before=7",
                   "https://qa.example.org/questions/5", "mailto:ann@example.org"):
        assert f'href="{target}"' in render(f"[x]({target})"), target
