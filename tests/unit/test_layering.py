"""Layering: each module imports alone (no cycle), the core never imports textual/click/rich.

Every module is imported in a fresh interpreter, so an import cycle or a missing import that
another module happened to hide shows up; the import graph (module-level and function-local
imports alike) is also checked for cycles, so a cycle cannot hide inside a function.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import fieldkit

ALL_MODULES = sorted(m.name for m in pkgutil.walk_packages(fieldkit.__path__, "fieldkit."))
UI = ("fieldkit.tui", "fieldkit.cli", "fieldkit.__main__")
CORE_MODULES = [m for m in ALL_MODULES if not m.startswith(UI)]
ROOT = Path(fieldkit.__file__).resolve().parent.parent


def _source(module: str) -> Path:
    rel = Path(*module.split("."))
    return ROOT / (rel / "__init__.py" if (ROOT / rel).is_dir() else rel.with_suffix(".py"))


def _resolve(name: str) -> str | None:
    """The fieldkit module that `name` (a module or a name inside one) refers to."""
    while name:
        if name in ALL_MODULES or name == "fieldkit":
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in ALL_MODULES}
    for m in ALL_MODULES:
        for node in ast.walk(ast.parse(_source(m).read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                r = _resolve(t) if t.startswith("fieldkit") else None
                if r and r != m and r != "fieldkit":
                    graph[m].add(r)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_there_are_core_modules():
    assert "fieldkit.store.parquet" in CORE_MODULES
    assert "fieldkit.io.dataset" in CORE_MODULES
    assert "fieldkit.inference.model_store" in CORE_MODULES


def test_import_graph_has_no_cycle():
    graph = import_graph()
    assert "fieldkit.inference.model_store" in graph["fieldkit.inference.generator"]  # the graph sees imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_core_does_not_import_the_ui_layers():
    graph = import_graph()
    bad = [(m, t) for m in CORE_MODULES for t in graph[m] if t.startswith(UI)]
    assert bad == []


def _import_alone(module: str) -> tuple[str, int, str, str]:
    code = (
        f"import sys, {module}\n"
        "print(','.join(m for m in ('textual', 'click', 'rich') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return module, out.returncode, out.stdout.strip(), out.stderr.strip()[-500:]


@pytest.fixture(scope="module")
def imported_alone():
    """Each module imported alone in its own interpreter (two at a time: CI has two cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {m: rest for m, *rest in pool.map(_import_alone, ALL_MODULES)}


def test_every_module_imports_alone(imported_alone):
    failed = {m: err for m, (rc, _, err) in imported_alone.items() if rc != 0}
    assert failed == {}


def test_core_modules_do_not_pull_in_ui_libraries(imported_alone):
    bad = {m: ui for m, (_, ui, _) in imported_alone.items() if m in CORE_MODULES and ui}
    assert bad == {}


def test_only_tui_pulls_in_textual(imported_alone):
    bad = [m for m, (_, ui, _) in imported_alone.items()
           if "textual" in ui.split(",") and not m.startswith("fieldkit.tui")]
    assert bad == []
