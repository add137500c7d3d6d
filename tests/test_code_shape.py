"""The code stays readable in small pieces: no function in src/ over 60 lines, no module
over 400 (counted as written, docstrings and signatures included)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List, Tuple

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _modules() -> List[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "egg-info" not in str(p))


def _long_functions(path: Path) -> List[Tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - start + 1
            if length > MAX_FUNCTION_LINES:
                out.append((node.name, length))
    return out


def test_the_source_tree_is_found():
    assert len(_modules()) > 50


def test_no_function_is_longer_than_60_lines():
    found = [
        f"{p.relative_to(SRC)}: {name} ({n} lines)" for p in _modules() for name, n in _long_functions(p)
    ]
    assert not found, "split these functions:\n" + "\n".join(found)


def test_no_module_is_longer_than_400_lines():
    found = []
    for path in _modules():
        n = len(path.read_text(encoding="utf8").splitlines())
        if n > MAX_MODULE_LINES:
            found.append(f"{path.relative_to(SRC)} ({n} lines)")
    assert not found, "split these modules:\n" + "\n".join(found)
