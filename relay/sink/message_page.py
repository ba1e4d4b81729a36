"""The inbox's page of one message: its tabs (text, HTML, headers, source, links), the SMTP
envelope beside the From/To headers, attachments, and what can be done to it.

Opening a message marks it read. The HTML part is served only from its own URL under MAIL_CSP,
inside an <iframe sandbox>; source and attachments only as inert files. "Check links" (a
same-origin POST) asks each of the message's links from this machine (links.check_links).
Delete and Mark unread are
same-origin POSTs. A name is only ever looked up in new/ (relay/sink/maildir.py), never joined.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

from flask import Flask, Response, abort, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from relay.sink.guard import INERT_CSP, MAIL_CSP, inert_download, local_path, refused_post
from relay.sink.index import MessageIndex
from relay.sink.links import TRAILING, URL, LinkCheck, links
from relay.sink.links import check_links as checked_links  # the route below has the name
from relay.sink.maildir import Maildir, StoredMessage
from relay.sink.message_view import MessageView, attachment, view

SOURCE_CAP = 1_000_000       # bytes of source shown in the page; /raw has all of it
TABS = ("text", "html", "headers", "source", "links")

_DOCTYPE = re.compile(r"\A\s*<!doctype[^>]*>", re.IGNORECASE)


def register_message_pages(app: Flask, index: MessageIndex) -> None:
    box = index.maildir

    @app.get("/messages/<name>")
    @app.get("/messages/<name>/<any(text, html, headers, source, links):tab>")
    def message(name: str, tab: str | None = None):
        stored, received = _stored(box, name)
        _mark_read(index, name)
        return _page(index, name, stored, received, tab)

    @app.post("/messages/<name>/links")
    def check_links(name: str):
        refused = refused_post()
        if refused:
            return refused
        stored, received = _stored(box, name)
        return _page(index, name, stored, received, "links", checks=checked_links(view(stored)))

    @app.post("/messages/<name>/delete")
    def delete_message(name: str):
        refused = refused_post()
        if refused:
            return refused
        index.delete([name])
        return redirect(local_path(request.form.get("next"), url_for("index")), 303)

    @app.post("/messages/<name>/unread")
    def mark_unread(name: str):
        refused = refused_post()
        if refused:
            return refused
        index.mark_read([name], read=False)
        return redirect(local_path(request.form.get("next"), url_for("index")), 303)

    _register_parts(app, box)


def _register_parts(app: Flask, box: Maildir) -> None:
    """The parts of a message served on their own: HTML body, source, attachments."""

    @app.get("/messages/<name>/html/body")
    def html_body(name: str):
        html = view(_stored(box, name)[0]).html
        if html is None:
            abort(404)
        response = Response(with_links_in_new_tabs(html), mimetype="text/html")
        response.headers["Content-Security-Policy"] = MAIL_CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/messages/<name>/raw")
    def raw(name: str):
        response = Response(_stored(box, name)[0].content, mimetype="text/plain")
        response.headers["Content-Security-Policy"] = INERT_CSP
        return response

    @app.get("/messages/<name>/attachments/<int:index>")
    def download(name: str, index: int):
        found = attachment(_stored(box, name)[0], index)
        if found is None:
            abort(404)
        described, data = found
        return inert_download(data, described.filename or f"attachment-{index}")


def _page(index: MessageIndex, name: str, stored: StoredMessage, received: int, tab: str | None,
          checks: list[LinkCheck] | None = None) -> str:
    """The message's page; `q`, the search it was opened from, is kept in its links."""
    query = request.args.get("q", "").strip()
    newer, older = neighbours(index, name, query)
    shown = view(stored)
    tab = tab or ("text" if shown.text is not None else "html" if shown.html is not None
                  else "headers")
    return render_template(
        "inbox/message.html", name=name, stored=stored, shown=shown, tab=tab, tabs=TABS,
        received=received, source=stored.content[:SOURCE_CAP].decode("utf-8", "replace"),
        source_cut=len(stored.content) > SOURCE_CAP, links=links(shown), checks=checks,
        not_in_headers=not_in_headers(stored, shown), query=query, newer=newer, older=older)


def neighbours(index: MessageIndex, name: str, query: str = "") -> tuple[str | None, str | None]:
    """The names of the messages matching `query` just newer and just older than `name`."""
    entry = index.get(name)
    if entry is None:
        return None, None
    newer = index.newer(entry.id, query, limit=1)
    older = index.page(query, limit=1, before=entry.id).entries
    return (newer[0].name if newer else None), (older[0].name if older else None)


def not_in_headers(stored: StoredMessage, shown: MessageView) -> set[str]:
    """Envelope recipients that no To or Cc header names (a Bcc, or a list's member)."""
    named = [value for header, value in shown.headers if header.lower() in ("to", "cc")]
    addresses = {address.lower() for _, address in getaddresses(named)}
    return {r for r in stored.recipients if r.lower() not in addresses}


def _mark_read(index: MessageIndex, name: str) -> None:
    if index.mark_read([name]) == 0 and index.get(name) is None:
        index.add(name)   # opened before the watcher indexed it
        index.mark_read([name])


def linked_text(text: str) -> Markup:
    """Text as markup with every http(s) URL a link that opens in a new tab; the rest escaped."""
    out, position = [], 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(TRAILING)
        out.append(escape(text[position:match.start()]))
        out.append(Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(url))
        position = match.start() + len(url)
    out.append(escape(text[position:]))
    return Markup("").join(out)


def with_links_in_new_tabs(html: str) -> str:
    """The message's HTML with a <base target="_blank"> first (after a doctype, which must lead)."""
    doctype = _DOCTYPE.match(html)
    at = doctype.end() if doctype else 0
    return html[:at] + '<base target="_blank">' + html[at:]


def _stored(box: Maildir, name: str) -> tuple[StoredMessage, int]:
    """The message called `name` and when it was received; 404 when there is none."""
    found = box.message(name)
    if found is None:
        abort(404)
    return found
