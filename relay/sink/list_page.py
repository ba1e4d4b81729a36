"""The inbox's list page and what it does to many messages at once.

GET / shows a page of PAGE_SIZE messages newest first, matching the search `q` (the language of
relay/sink/search.py), older than the cursor `before` (keyset paging by index id: no OFFSET, so
the thousandth page costs what the first does). POSTs, accepted only from the inbox's own
pages: the selected messages deleted, read or unread; every message a search found deleted
(after a confirmation page, so no script is needed); the inbox cleared. Reads and changes the
index (relay/sink/index.py), which deletes the files from the Maildir.
"""

from __future__ import annotations

from flask import Flask, abort, redirect, render_template, request, url_for

from relay.sink.guard import local_path, refused_post
from relay.sink.index import MessageIndex

PAGE_SIZE = 50
SELECTED_ACTIONS = ("delete", "read", "unread")


def register_list_pages(app: Flask, index: MessageIndex, page_size: int = PAGE_SIZE) -> None:
    @app.get("/", endpoint="index")
    def listing():
        query = request.args.get("q", "").strip()
        before = _cursor(request.args.get("before"))
        page = index.page(query, limit=page_size, before=before)
        return render_template("inbox/list.html", page=page, query=query, before=before,
                               live="insert" if before is None and not query else "notify")

    @app.post("/selected")
    def selected():
        refused = refused_post()
        if refused:
            return refused
        names, action = request.form.getlist("id"), request.form.get("action")
        if action not in SELECTED_ACTIONS:
            abort(400)
        if action == "delete":
            index.delete(names)
        else:
            index.mark_read(names, read=action == "read")
        return redirect(local_path(request.form.get("next")), 303)

    @app.get("/delete-found")
    def confirm_delete_found():
        query = request.args.get("q", "").strip()
        if not query:
            return redirect(url_for("index"), 303)   # no search: that is "Clear inbox"
        return render_template("inbox/delete_found.html", query=query,
                               found=index.page(query, limit=0).total)

    @app.post("/delete-found")
    def delete_found():
        refused = refused_post()
        if refused:
            return refused
        query = request.form.get("q", "").strip()
        if query:
            index.delete(index.names(query))
        return redirect(url_for("index", q=query or None), 303)

    @app.post("/clear")
    def clear():
        refused = refused_post()
        if refused:
            return refused
        index.clear()
        return redirect(url_for("index"), 303)


def _cursor(value: str | None) -> int | None:
    """The `before` cursor of an Older link; anything else means the first page."""
    return int(value) if value and value.isdigit() else None
