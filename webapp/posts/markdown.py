"""Markdown to safe HTML: what members write, as the pages (and later the mail) show it.

render() parses CommonMark (markdown-it-py, with tables and strikethrough; raw HTML in
the source is shown as text, never passed through) and then cleans the result with nh3
(ammonia) against an allow-list: no script, style, iframe, form, event or style attributes;
links only to http, https and mailto, or relative ones that stay on the site (an href a
browser reads as another host, "//evil.example" and its spellings, is dropped), each with
rel="nofollow ugc". An image becomes a link to it (the site's CSP loads images from the site
only, and a remote image would tell its host who reads the page). Code blocks keep their text and line breaks.
Posts store the output beside their source when saved: a page renders nothing per request.
An @handle of a member (webapp.posts.mentions gives the links) becomes a link to their profile,
class "mention"; in code, in a link's text or after a letter (an address) it stays text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline

from webapp.accounts.handles import PATTERN as HANDLE

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
    "strong", "em", "del", "s", "code", "pre", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
# What a browser's URL parser drops or reads as "/" before it decides a URL's host (WHATWG URL).
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_IGNORED_IN_URLS = str.maketrans({"\t": None, "\n": None, "\r": None, "\\": "/"})

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}) \
    .enable(["table", "strikethrough"])


def _image_as_link(renderer, tokens, idx, options, env) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    return f'<a href="{escapeHtml(src)}">{escapeHtml(token.content or src)}</a>'


_parser.add_render_rule("image", _image_as_link)
_MENTION = re.compile(rf"@({HANDLE})(?![a-z0-9_])", re.IGNORECASE)


def _mention(state: StateInline, silent: bool) -> bool:
    """An @handle the caller has a link for (env["mention_links"]), as a link; the handles
    linked are added to env["mentioned"]."""
    links = state.env.get("mention_links")
    if not links or state.src[state.pos] != "@" or state.linkLevel > 0:
        return False
    if state.pos > 0 and (state.src[state.pos - 1].isalnum() or state.src[state.pos - 1] in "_@/."):
        return False   # an address (ada@example.org) or a path, not a mention
    match = _MENTION.match(state.src, state.pos)
    handle = match.group(1).lower() if match else None
    if handle not in links:
        return False
    if not silent:
        token = state.push("link_open", "a", 1)
        token.attrs = {"href": links[handle], "class": "mention"}
        state.push("text", "", 0).content = "@" + handle
        state.push("link_close", "a", -1)
        state.env.setdefault("mentioned", set()).add(handle)
    state.pos = match.end()
    return True


_parser.inline.ruler.before("link", "mention", _mention)


def render(source: str) -> str:
    """The sanitised HTML fragment for Markdown `source`."""
    return clean(_parser.render(source))


def render_with_mentions(source: str, mention_links: Mapping[str, str]) -> tuple[str, set[str]]:
    """render(), with the @handles of `mention_links` ({handle: profile link}) linked; returns
    the HTML and the handles it linked (a handle in code is not a mention)."""
    env: dict = {"mention_links": mention_links}
    html = clean(_parser.render(source, env))
    return html, env.get("mentioned", set())


def clean(html: str) -> str:
    """`html` with everything outside the allow-list removed (and links marked nofollow ugc)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_no_other_host_by_a_relative_link,
        link_rel="nofollow ugc",
        strip_comments=True,
    )


def _no_other_host_by_a_relative_link(_tag: str, attribute: str, value: str) -> str | None:
    """None (the attribute dropped) for an href without a scheme that names a host anyway."""
    if attribute == "class":
        return value if value == "mention" else None   # only the mention links carry one
    if attribute != "href":
        return value
    seen_by_a_browser = value.lstrip(_C0_AND_SPACE).translate(_IGNORED_IN_URLS)
    return None if seen_by_a_browser.startswith("//") else value
