"""Reading a JSON document the other side wrote, whatever it holds: the one json.loads of channel/.

parse_json() gives the document, or ValueError for anything that is not one. The stdlib
parser recurses once per nesting level and raises RecursionError on a few KB of "[" (or
"{"): that is one bad file, not a failure of the reader, so it becomes a ValueError too,
which every reader here already turns into a refusal, a skipped line or "no answer yet".
"""

from __future__ import annotations

import json


def parse_json(data: bytes | str) -> object:
    """The JSON document in `data`; raises ValueError (UnicodeDecodeError for bytes that are
    not UTF-8, "nested too deeply" for a document the parser cannot descend)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
