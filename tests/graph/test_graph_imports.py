"""The dependency rule for ``graph``: it imports nothing from ``bot`` or ``cards``."""

from __future__ import annotations

import ast
from pathlib import Path

import graph


def test_graph_imports_nothing_from_bot_or_cards() -> None:
    root = Path(graph.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"bot", "cards"}]
    assert not offenders
