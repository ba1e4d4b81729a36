"""A mail's text part from its HTML part: readable text, its links as numbered footnotes.

as_text() takes HTML the site rendered and cleaned (webapp.posts.markdown.render of a
Markdown source), lays it out with inscriptis (paragraphs, lists, tables; no markup
left), puts "[1]" after each link's words and lists the addresses at the end, made
absolute against the site's address. A link whose words are its address gets no
footnote; the same address twice keeps its first number.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import lxml.html
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.html_properties import Display, WhiteSpace
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_element import HtmlElement

# Code keeps its spaces and line breaks (a code block is <pre><code>); a quote is indented.
_CSS = {**CSS_PROFILES["strict"], "code": HtmlElement(whitespace=WhiteSpace.pre),
        "blockquote": HtmlElement(display=Display.block, padding_inline=4)}
_LAYOUT = ParserConfig(css=_CSS, display_links=False, display_images=False)


def as_text(html: str, base_url: str) -> str:
    """`html` as plain text with link footnotes; relative links are read against `base_url`."""
    if not html.strip():
        return ""
    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    urls: list[str] = []
    for link in tree.iter("a"):
        href = (link.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        url = urljoin(base_url.rstrip("/") + "/", href)
        words = link.text_content().strip()
        if words in (href, url, href.removeprefix("mailto:")):
            link.text, link[:] = url if words != href.removeprefix("mailto:") else words, []
            continue
        if url not in urls:
            urls.append(url)
        link.tail = f" [{urls.index(url) + 1}]" + (link.tail or "")
    inner = lxml.html.tostring(tree, encoding="unicode").removeprefix("<div>").removesuffix("</div>")
    text = get_text(inner, _LAYOUT)   # without the wrapping div, which inscriptis would indent
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.strip("\n").split("\n")))
    if urls:
        text += "\n\n" + "\n".join(f"[{n}] {url}" for n, url in enumerate(urls, 1))
    return text
