"""Who may import whom: the site imports `channel`, `spooler` and `settings`, never `relay`; the
packages both sides share import neither side. Every module is read with ast (every `import` and
`from ... import`, inside functions too), wherever it sits below its package's folder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = ("channel", "spooler", "settings")   # imported by the site and the relay alike


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in a module's syntax tree."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def forbidden_imports(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    """`path:line: imports module` for each import of a forbidden package or one of its modules."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in imported(tree):
            if module.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(folder.parent)}:{line}: imports {module}")
    return found


def test_the_site_never_imports_the_relay():
    assert (REPO / "webapp").is_dir()
    assert forbidden_imports(REPO / "webapp", ("relay",)) == []


@pytest.mark.parametrize("package", SHARED)
def test_what_both_sides_share_imports_neither_side(package):
    assert (REPO / package).is_dir()
    assert forbidden_imports(REPO / package, ("relay", "webapp")) == []


def test_the_rule_finds_an_import_in_a_sub_package_and_inside_a_function(tmp_path):
    module = tmp_path / "webapp" / "admin" / "queue.py"
    module.parent.mkdir(parents=True)
    module.write_text("from channel import status\n\n\ndef late():\n"
                      "    import relay.admin.listing\n    from relay import cli\n"
                      "    from . import relay_things\n")
    assert forbidden_imports(tmp_path / "webapp", ("relay",)) == [
        "webapp/admin/queue.py:5: imports relay.admin.listing",
        "webapp/admin/queue.py:6: imports relay"]
