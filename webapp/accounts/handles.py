"""Members' @handles: the one-word name a post mentions a member by (`@ada_lovelace`).

A display name may have spaces and need not be unique, so, as on GitHub and Discourse, a
mention names a handle: lowercase letters, digits and "_", at most 30, unique. It is made
from the display name when the account is made ("Ada Lovelace" -> ada_lovelace, then
ada_lovelace2 when that is taken) and kept when the display name changes later, so old
mentions keep pointing at the same member. Reads and writes users.handle.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session

MAX_LENGTH = 30
PATTERN = r"[a-z0-9_]{1,30}"   # what follows "@" in a mention (compared lowercased)


def base_handle(display_name: str) -> str:
    """The handle a display name gives before any clash: ASCII letters and digits, words
    joined by "_", lowercased; "member" when nothing of it is left."""
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_name.lower())
    return "_".join(words)[:MAX_LENGTH - 4].strip("_") or "member"


def first_free(base: str, taken: set[str]) -> str:
    """`base`, or base2, base3... : the first not in `taken`."""
    handle, n = base, 1
    while handle in taken:
        n += 1
        handle = f"{base}{n}"
    return handle


def derive_handles(rows: Iterable[tuple[int, str]]) -> dict[int, str]:
    """{id: handle} for (id, display_name) rows in order, none clashing (the migration's)."""
    taken: set[str] = set()
    handles = {}
    for user_id, name in rows:
        handles[user_id] = first_free(base_handle(name or ""), taken)
        taken.add(handles[user_id])
    return handles


def install() -> None:
    """Give every new User a handle at flush, whichever code made it (registration, the
    create-admin command, tests). Rows bulk-inserted with Core get none: they cannot be
    mentioned until one is set."""
    event.listen(Session, "before_flush", _assign_new_handles)


def _assign_new_handles(session: Session, _context, _instances) -> None:
    from webapp.accounts.models import User  # models imports this module
    new = [obj for obj in session.new if isinstance(obj, User) and not obj.handle]
    if not new:
        return
    taken = {u.handle for u in session.new if isinstance(u, User) and u.handle}
    with session.no_autoflush:
        for user in new:
            base = base_handle(user.display_name or "")
            taken |= set(session.execute(User.__table__.select().with_only_columns(User.handle)
                                         .where(User.handle.like(f"{base}%"))).scalars())
            user.handle = first_free(base, taken)
            taken.add(user.handle)
