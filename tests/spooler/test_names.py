"""spooler.names.printable: a name someone else chose, fit for one line of a log or a reason file."""

from __future__ import annotations

import pytest

from spooler.names import printable


@pytest.mark.parametrize("text, keep, shown", [
    ("report.eml", "", "report.eml"),
    ("x\nfake: line.eml", "", "x\\nfake: line.eml"),
    ("\x1b[2Jcleared", "", "\\x1b[2Jcleared"),
    ("tab\there\nnext", "\t\n", "tab\there\nnext"),
    ("zoë", "", "zoë"),
])
def test_control_characters_are_shown_escaped_but_those_kept(text, keep, shown):
    assert printable(text, keep) == shown
