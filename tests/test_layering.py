"""Imports inside himnet_lib go one way, have no cycle and reach no private names of another module.

Every ``import`` / ``from ... import`` of a himnet_lib module is read with ``ast``, at module level
and inside functions alike (a function-level import still ties the two modules together), and
``if TYPE_CHECKING:`` blocks too. :data:`LAYERS` is the layer map, top to bottom (docs/usage.md,
"Library layout"): a module may import from its own layer or a lower one, never a higher one,
and every module must be placed in it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "himnet_lib"

# Top to bottom. Notebooks sit above all of it and import any of it.
LAYERS: list[tuple[str, set[str]]] = [
    ("entry", {"__main__", "cli", "lab"}),
    ("runner", {"runs", "scheduler", "notebook_exec", "study_dirs", "slurm"}),
    ("train", {"train", "inference"}),
    # tables, figures and claims read run records (numpy): they must not need the model or torch
    ("analysis", {"tables", "run_rows", "aggregate", "table_files", "schedule_selection", "compare", "claims", "dose",
                  "calibration", "picker", "report", "viz", "registry"}),
    ("settings, records, scoring", {"config", "study", "records", "readouts"}),
    ("core", {"data", "data.bundle", "data.dataset", "data.pervideo", "data.safe_npy", "data.sampling",
              "data.summary", "data.synthetic", "data.validate", "model", "fastops", "losses", "baselines",
              "baselines.basnet", "baselines.common", "baselines.hamnet", "localize", "groundtruth",
              "metrics", "diagnostics", "settings"}),
    ("foundation", {"", "errors", "io", "paths", "paper", "locks", "terms", "seed", "device", "process", "stats",
                    "markdown", "rundir", "kernels", "workers", "progress"}),
]


def module_files(package: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Module name relative to the package ("" for its __init__, "data.bundle") -> (file, is package)."""
    out = {}
    for p in sorted(package.rglob("*.py")):
        parts = list(p.relative_to(package).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return out


def _resolve(name: str, is_pkg: bool, node: ast.ImportFrom) -> str | None:
    """The package-relative module a ``from`` import names, or None when it is outside the package."""
    if node.level == 0:
        if node.module != "himnet_lib" and not (node.module or "").startswith("himnet_lib."):
            return None
        return (node.module or "").removeprefix("himnet_lib").removeprefix(".")
    here = name.split(".") if name else []
    base = here if is_pkg else here[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(package: Path = PACKAGE) -> tuple[dict[str, set[str]], list[str]]:
    """(module -> modules it imports, ``from X import _private`` findings across modules)."""
    mods = module_files(package)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    private = []
    for name, (path, is_pkg) in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "himnet_lib" or a.name.startswith("himnet_lib."):
                        graph[name].add(a.name.removeprefix("himnet_lib").removeprefix("."))
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, is_pkg, node)
                if target is None:
                    continue
                for a in node.names:
                    sub = f"{target}.{a.name}" if target else a.name
                    if sub in mods:          # from . import paper: the submodule
                        graph[name].add(sub)
                    else:                    # from .records import load_outputs: the module
                        graph[name].add(target)
                        if a.name.startswith("_") and not a.name.startswith("__") and target != name:
                            private.append(f"{name or 'himnet_lib'}: from {target or 'himnet_lib'} "
                                           f"import {a.name}")
        graph[name].discard(name)
    return graph, private


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def upward_imports(graph: dict[str, set[str]], layers=LAYERS) -> list[str]:
    level = {m: i for i, (_, ms) in enumerate(layers) for m in ms}
    return [f"{a or 'himnet_lib'} ({layers[level[a]][0]}) imports {b} ({layers[level[b]][0]})"
            for a in sorted(graph) for b in sorted(graph[a]) if level[b] < level[a]]


def test_every_module_has_a_layer():
    placed = [m for _, ms in LAYERS for m in ms]
    assert len(placed) == len(set(placed)), "a module is in two layers"
    assert set(module_files()) == set(placed)


def test_docs_table_is_the_layer_map():
    """docs/usage.md's layer table lists the same layers, in the same order, with the same modules."""
    mods = module_files()
    text = (PACKAGE.parent / "docs" / "usage.md").read_text()
    rows = [r for r in text.splitlines() if r.startswith("| ") and "`" in r and r.count("|") == 3]
    documented = []
    for r in rows:
        layer, names = r.strip("| ").split(" | ")
        ms = set()
        for n in re.findall(r"`([^`]+)`", names):
            ms |= ({m for m in mods if m == n[:-2] or m.startswith(n[:-1].replace("/", "."))}
                   if n.endswith("/*") else {n})
        documented.append((layer, ms))
    expected = [(name, ms - {""}) for name, ms in LAYERS]
    assert documented == expected


def test_no_import_cycle():
    graph, _ = import_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_no_upward_import():
    graph, _ = import_graph()
    assert upward_imports(graph) == []


def test_no_private_names_across_modules():
    _, private = import_graph()
    assert private == []


def test_the_checks_see_a_cycle_an_upward_and_a_private_import(tmp_path):
    """The checks on a toy package: a function-level import closing a cycle, and an upward import."""
    pkg = tmp_path / "himnet_lib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("def f():\n    from .high import g\n    return g\n")
    (pkg / "high.py").write_text("from himnet_lib.low import f, _hidden\n")
    graph, private = import_graph(pkg)
    assert graph == {"": set(), "low": {"high"}, "high": {"low"}}
    assert find_cycle(graph) == ["high", "low", "high"]
    assert upward_imports(graph, [("top", {"high"}), ("bottom", {"", "low"})]) == [
        "low (bottom) imports high (top)"]
    assert private == ["high: from low import _hidden"]


def _loads_torch(*modules: str) -> bool:
    code = f"import sys\nimport {', '.join(modules)}\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "True"


def test_figures_and_diagnostics_load_no_torch():
    assert not _loads_torch("himnet_lib.viz", "himnet_lib.diagnostics", "himnet_lib.terms")


def test_tables_and_claims_load_no_torch():
    assert not _loads_torch("himnet_lib.tables", "himnet_lib.claims", "himnet_lib.readouts")


def test_table_helpers_load_no_torch():
    assert not _loads_torch("himnet_lib.run_rows", "himnet_lib.aggregate", "himnet_lib.table_files",
                            "himnet_lib.schedule_selection", "himnet_lib.compare")
