"""Every way out of a claim is a Fate from relay.delivery.fate.decide(), carried out by
relay.delivery.exit alone: read in the code itself, so a new shortcut fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def modules() -> list[Path]:
    return [p for p in (ROOT / "relay").rglob("*.py")]


def calls(path: Path) -> list[tuple[str, int]]:
    """(name, line) of every call in the module, by the called name's last part."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            found.append((name, node.lineno))
    return found


def test_no_code_outside_the_queue_renames_or_removes_a_claimed_file():
    queue = ROOT / "relay" / "queue"
    strays = []
    for path in modules():
        if queue in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("rename", "replace", "unlink", "link", "utime") \
                    and "claimed" in ast.unparse(node):
                strays.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert strays == [], "a claimed file touched outside relay/queue: " + "; ".join(strays)


def test_the_moves_of_a_claimed_message_are_made_by_the_exit_alone():
    """relay.queue.moves (defer, delivered, to_badmail, put_back) is imported by the exit only."""
    importers = sorted(str(p.relative_to(ROOT)) for p in modules()
                       for node in ast.walk(ast.parse(p.read_text()))
                       if (isinstance(node, ast.ImportFrom) and node.module == "relay.queue.moves")
                       or (isinstance(node, ast.ImportFrom) and node.module == "relay.queue"
                           and any(a.name == "moves" for a in node.names))
                       or (isinstance(node, ast.Import)
                           and any(a.name == "relay.queue.moves" for a in node.names)))
    assert importers == ["relay/delivery/exit.py"]


def test_only_the_fate_function_makes_a_fate():
    fate_module = ROOT / "relay" / "delivery" / "fate.py"
    strays = [f"{p.relative_to(ROOT)}:{line}" for p in modules() if p != fate_module
              for name, line in calls(p) if name == "Fate"]
    assert strays == [], "a Fate made outside relay.delivery.fate.decide(): " + ", ".join(strays)


def test_no_attempt_invents_a_smart_host_reply():
    """A reply (RecipientReply) is made only where SMTP was spoken: the client and its replies."""
    speaking = {ROOT / "relay" / "smtp" / "client.py", ROOT / "relay" / "smtp" / "replies.py"}
    strays = [f"{p.relative_to(ROOT)}:{line}" for p in modules() if p not in speaking
              for name, line in calls(p) if name in ("RecipientReply", "DeliveryResult")]
    assert strays == [], "an invented SMTP reply: " + ", ".join(strays)
