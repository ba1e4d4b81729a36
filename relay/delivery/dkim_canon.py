"""DKIM on the wire bytes: header fields, relaxed canonicalization, header selection, folding.

Reads a message's wire bytes (CRLF line ends, as parse_pickup leaves them) without the email
package: the header fields as they stand, the body after the first empty line. Pure functions
(RFC 6376 §3.4 relaxed/relaxed, §5.4.2 selection); what they produce is what dkimpy hashes when it
verifies, quirks included (the tests hold them to it): a header line starting "From " (an mbox
line) is skipped, a body not ending in CRLF is hashed as if it did. A header line that is neither
a field nor a continuation of one raises UnreadableHeader (dkimpy refuses those too).
"""

from __future__ import annotations

import re

_FIELD_NAME = re.compile(rb"([\x21-\x7e]+?):")
_WSP = re.compile(rb"[\t ]{2,}|\t")   # runs of WSP; a lone space is left as it is (most of them)
_WSP_BEFORE_CRLF = re.compile(rb"[\t ]+\r\n")
_LINE_BREAK = re.compile(rb"\r?\n")
# dkimpy folds the DKIM-Signature at 72 columns, the name's 14 counted on the first line;
# the same cuts make the same bytes, so a signature can be compared with dkimpy's whole.
FOLD_FIRST = 72 - len("DKIM-Signature")
FOLD_WIDTH = 71

Field = tuple[bytes, bytes]   # the name as written, the value after the colon with its folds


class UnreadableHeader(ValueError):
    """A header line that is no field; str() quotes its start."""


def split_message(content: bytes) -> tuple[list[Field], bytes]:
    """The header fields in order, and the body (everything after the first empty line)."""
    if content.startswith(b"\r\n"):
        return [], content[2:]
    end = content.find(b"\r\n\r\n")
    if end < 0:   # headers only
        head, body = content.removesuffix(b"\r\n"), b""
    else:
        head, body = content[:end], content[end + 4:]
    fields: list[list[bytes]] = []
    for line in head.split(b"\r\n") if head else ():
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise UnreadableHeader(f"a continuation line before any field: {line[:40]!r}")
            fields[-1][1] += b"\r\n" + line
        elif m := _FIELD_NAME.match(line):
            fields.append([m.group(1), line[m.end():]])
        elif not line.startswith(b"From "):
            raise UnreadableHeader(f"not a header field: {line[:40]!r}")
    return [(name, value) for name, value in fields], body


def names_to_sign(configured: tuple[str, ...], fields: list[Field]) -> list[bytes]:
    """The h= list: the configured names present (lowercase, once each), then From once more
    so no second From can be added without breaking the signature (oversigning)."""
    present = {name.lower() for name, _value in fields}
    wanted = [name.lower().encode("ascii") for name in configured]
    return [name for name in dict.fromkeys(wanted) if name in present] + [b"from"]


def select_fields(fields: list[Field], names: list[bytes]) -> list[Field]:
    """For each name of h=, in order, the lowest field of that name not taken yet; a name with
    none left selects nothing (RFC 6376 §5.4.2)."""
    bottom_up: dict[bytes, list[Field]] = {}
    for field in reversed(fields):
        bottom_up.setdefault(field[0].lower(), []).append(field)
    taken: dict[bytes, int] = {}
    selected = []
    for name in names:
        n = taken.get(name, 0)
        candidates = bottom_up.get(name, ())
        if n < len(candidates):
            selected.append(candidates[n])
        taken[name] = n + 1
    return selected


def relaxed_field(name: bytes, value: bytes) -> bytes:
    """`name:value\\r\\n` relaxed: name lowercase, value unfolded, runs of WSP one space, trimmed."""
    if b"\n" in value:
        value = _LINE_BREAK.sub(b"", value)
    if b"\t" in value or b"  " in value:
        value = _WSP.sub(b" ", value)
    return name.lower() + b":" + value.strip() + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """The body relaxed: no WSP before a line end, runs of WSP one space, no empty lines at the
    end, one CRLF at the end; an empty body stays empty."""
    # Each regex runs only when a plain search finds work for it: most bodies have none.
    if b" \r\n" in body or b"\t\r\n" in body:
        body = _WSP_BEFORE_CRLF.sub(b"\r\n", body)
    if b"\t" in body or b"  " in body:
        body = _WSP.sub(b" ", body)
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    return body[:end] + b"\r\n" if end else b""


def fold(value: bytes) -> bytes:
    """A DKIM-Signature value over several lines: each cut at the last space that fits (the space
    becomes CRLF + space, which relaxed unfolds back), or at the width where none does (b=)."""
    lines, limit = [], FOLD_FIRST
    while len(value) > limit:
        space = value.rfind(b" ", 0, limit)
        cut, rest = (limit, limit) if space < 0 else (space, space + 1)
        if value[rest:] == b"\r\n":   # never a last line of white space alone
            break
        lines.append(value[:cut])
        value = value[rest:]
        limit = FOLD_WIDTH
    lines.append(value)
    return b"\r\n ".join(lines)
