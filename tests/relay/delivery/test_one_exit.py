"""Every way out of a claim is a Fate from relay.delivery.fate.decide(), carried out by
relay.delivery.exit alone: read in the code itself, so a new shortcut fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MOVES = {"defer", "delivered", "to_badmail", "put_back"}   # relay.queue.moves: a claimed file moves


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


def test_only_the_exit_moves_a_claimed_message():
    exit_module = ROOT / "relay" / "delivery" / "exit.py"
    strays = [f"{p.relative_to(ROOT)}:{line} calls {name}()"
              for p in modules() if p not in (exit_module, ROOT / "relay" / "queue" / "moves.py")
              for name, line in calls(p) if name in MOVES]
    assert strays == [], "a claimed message moved outside relay/delivery/exit.py: " + "; ".join(strays)


def test_the_queues_moves_are_imported_by_the_exit_alone():
    importers = sorted(str(p.relative_to(ROOT)) for p in modules()
                       for node in ast.walk(ast.parse(p.read_text()))
                       if isinstance(node, ast.ImportFrom) and node.module == "relay.queue.moves")
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
