"""The highlighted snippet of a search hit: text the database cut around the words found,
with the words between two control characters, turned into safe HTML.

The database marks with START and STOP (characters no post can hold: the forms keep no
control characters that render); everything else is escaped here, so a post's own "<b>"
shows as text and only our <mark> is markup.
"""

from __future__ import annotations

from markupsafe import Markup, escape

START, STOP = "\x02", "\x03"


def highlighted(marked: str | None) -> Markup:
    """`marked` (the database's snippet) as HTML: escaped, the found words in <mark>."""
    text = str(escape(" ".join((marked or "").split())))   # one line: Markdown's newlines go
    return Markup(text.replace(START, "<mark>").replace(STOP, "</mark>"))
