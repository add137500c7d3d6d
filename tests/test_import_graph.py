"""The package's import graph has layers: imports run down the layers, never up, and no
two packages import each other (also through lazy imports inside functions).

    cli, compat (spacy-transformers' names and surface), spacy_transfer (the root registers names on import)
    core.config
    core.training, core.pretraining, core.vectors, core.distill
    core.transformer, core.distributed, core.state, core.recipe (the run protocol)
    core.validation, core.upstream, core.devices, core.precision, core.cpu, core.corpora, core.io, core.memory, core.info, errors, registry, templates

Packages of one layer may import each other as long as that makes no cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "spacy_transfer"
LAYERS: List[List[str]] = [
    ["cli", "compat", "__main__", ""],
    ["core.config"],
    ["core.training", "core.pretraining", "core.vectors", "core.distill"],
    ["core.transformer", "core.distributed", "core.state", "core.recipe"],
    [
        "core.validation",
        "core.upstream",
        "core.devices",
        "core.precision",
        "core.cpu",
        "core.corpora",
        "core.io",
        "core.memory",
        "core.info",
        "core",
        "errors",
        "registry",
        "templates",
    ],
]
LAYER_OF = {unit: depth for depth, units in enumerate(LAYERS) for unit in units}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports(path: Path) -> Set[str]:
    """Every spacy_transfer module ``path`` imports, at the top or inside a function."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = (
                ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
            )
            for alias in node.names:  # `from .core import transformer` imports a module
                found.add(f"{target}.{alias.name}" if _is_module(f"{target}.{alias.name}") else target)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def unit_of(module: str) -> str:
    """The layer unit of a module: the longest prefix that LAYERS names."""
    rest = module[len(PACKAGE) + 1 :] if module != PACKAGE else ""
    parts = rest.split(".") if rest else []
    for n in range(len(parts), -1, -1):
        candidate = ".".join(parts[:n])
        if candidate in LAYER_OF:
            return candidate
    raise AssertionError(f"{module} is in no layer of tests/test_import_graph.py: add it to LAYERS")


def unit_graph() -> Dict[str, Set[str]]:
    graph: Dict[str, Set[str]] = defaultdict(set)
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        here = unit_of(_module_name(path))
        for target in _imports(path):
            there = unit_of(target)
            if there != here:
                graph[here].add(there)
    return graph


def test_every_module_is_in_a_layer():
    for path in (SRC / PACKAGE).rglob("*.py"):
        unit_of(_module_name(path))


def upward_edges(graph: Dict[str, Set[str]]) -> List[tuple]:
    return sorted((a, b) for a, targets in graph.items() for b in targets if LAYER_OF[b] < LAYER_OF[a])


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    found: List[List[str]] = []

    def visit(node: str, trail: List[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in trail:
                found.append(trail[trail.index(nxt) :] + [nxt])
            elif len(trail) < len(LAYER_OF):
                visit(nxt, trail + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    return found


def test_no_import_runs_up_the_layers():
    assert not upward_edges(unit_graph()), f"imports that run up the layers: {upward_edges(unit_graph())}"


def test_no_two_packages_import_each_other():
    assert not cycles(unit_graph()), f"import cycles: {cycles(unit_graph())[:3]}"


def test_the_checks_catch_what_they_look_for():
    """Not vacuous: an upward edge and a cycle of one layer are both reported."""
    assert upward_edges({"core.training": {"core.config", "core.io"}}) == [("core.training", "core.config")]
    assert cycles({"core.training": {"core.pretraining"}, "core.pretraining": {"core.training"}})
    assert "core.transformer" in unit_graph()["core.training"]  # the graph is read from the sources


def _external_imports(path: Path) -> Set[str]:
    names: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_compat_knows_spacy_transformers():
    """The core never imports the compatibility layer, nor whichever spacy_transformers serves."""
    offenders = [
        str(path.relative_to(SRC))
        for path in (SRC / PACKAGE).rglob("*.py")
        if not _module_name(path).startswith((f"{PACKAGE}.compat", f"{PACKAGE}.cli"))
        and _module_name(path) != PACKAGE
        and _external_imports(path) & {"spacy_transformers", "_spacy_transfer_st"}
    ]
    assert not offenders, offenders
    assert "_spacy_transfer_st" in _external_imports(SRC / PACKAGE / "compat" / "__init__.py")  # not vacuous
