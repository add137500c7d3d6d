"""No module reaches a private attribute of another library except through core/upstream.py,
where each one is named, explained and tested on the real object (tests/core/test_upstream.py).

An access ``obj._name`` (or ``getattr(obj, "_name")``) counts as private to another library
when ``obj`` is not ``self``/``cls`` and no module of ours defines ``_name``. The test names
each new one with its file and line, so an upgrade cannot break it silently."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Set, Tuple

SRC = Path(__file__).resolve().parents[1] / "src"
UPSTREAM = SRC / "spacy_transfer" / "core" / "upstream.py"
# The standard library's documented underscore names.
ALLOWED = {"os._exit", "sys._getframe"}


def modules() -> List[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def names_we_define(paths: List[Path]) -> Set[str]:
    """Underscore names our own code defines: functions, classes, attributes it assigns."""
    ours: Set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                ours.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                ours.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                ours.add(node.id)
            elif isinstance(node, ast.arg):
                ours.add(node.arg)
    return {n for n in ours if _private(n)}


def private_accesses(path: Path, ours: Set[str]) -> Iterator[Tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ours:
            base = ast.unparse(node.value)
            if base not in ("self", "cls") and f"{base}.{node.attr}" not in ALLOWED:
                yield node.lineno, f"{base}.{node.attr}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and node.args[1].value not in ours
        ):
            yield node.lineno, f"{node.func.id}(..., {node.args[1].value!r})"


def test_private_attributes_of_other_libraries_are_reached_only_through_upstream():
    paths = modules()
    ours = names_we_define([p for p in paths if p != UPSTREAM])
    found = [
        f"{path.relative_to(SRC)}:{line}: {what}"
        for path in paths
        if path != UPSTREAM
        for line, what in private_accesses(path, ours)
    ]
    assert not found, "route these through core/upstream.py (with a test):\n" + "\n".join(found)


def test_the_check_finds_a_private_access(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(nlp, proc):\n    nlp._optimizer\n    getattr(proc, '_multitasks')\n    self_ok = 1\n"
    )
    assert [what for _, what in private_accesses(sample, set())] == [
        "nlp._optimizer",
        "getattr(..., '_multitasks')",
    ]
