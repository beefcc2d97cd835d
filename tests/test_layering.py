"""The package's layers are its folders, and imports between them go one way.

Every ``import`` / ``from ... import`` of a himnet_lib module is read with ``ast``, at module level
and inside functions alike (a function-level import still ties the two modules together), and
``if TYPE_CHECKING:`` blocks too. A module's layer is its top folder (``study/figures/charts.py``
is in ``study``); :data:`MAY_IMPORT` says which layers each one may import besides its own
(docs/architecture.md draws the same map, and a test holds the two together). No cycle between
modules, and no private name reached across modules.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "himnet_lib"

# layer -> the other layers it may import. The top-level modules (cli, __main__) are the "cli"
# layer; the package's own __init__ ("") holds only the version and sits with utils.
MAY_IMPORT: dict[str, set[str]] = {
    "cli": {"engine", "study", "modeling", "evaluation", "datasets", "config", "utils"},
    "engine": {"study", "modeling", "evaluation", "datasets", "config", "utils"},
    "study": {"evaluation", "datasets", "config", "utils"},
    "modeling": {"config", "utils"},
    "evaluation": {"datasets", "config", "utils"},
    "datasets": {"config", "utils"},
    "config": {"utils"},
    "utils": set(),
}
# the layers whose modules load no torch (tested by importing them in a fresh interpreter)
TORCH_FREE = ("study", "evaluation", "datasets", "config")
MAX_TOP_LEVEL_MODULES = 6
MAX_LINES = 450


def module_files(package: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Module name relative to the package ("" for its __init__, "study.grids") -> (file, is package)."""
    out = {}
    for p in sorted(package.rglob("*.py")):
        parts = list(p.relative_to(package).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return out


def layer_of(module: str) -> str:
    """The layer of a package-relative module: its top folder, "cli" for a top-level module."""
    if module == "":
        return "utils"
    top = module.split(".")[0]
    return top if top in MAY_IMPORT else "cli"


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
                    if sub in mods:          # from himnet_lib.study import grids: the submodule
                        graph[name].add(sub)
                    else:                    # from himnet_lib.study.grids import RunSpec: the module
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


def wrong_way_imports(graph: dict[str, set[str]], may_import=MAY_IMPORT) -> list[str]:
    """Imports from one layer into another that :data:`MAY_IMPORT` does not allow."""
    out = []
    for a in sorted(graph):
        for b in sorted(graph[a]):
            la, lb = layer_of(a), layer_of(b)
            if la != lb and lb not in may_import[la]:
                out.append(f"{a or 'himnet_lib'} ({la}) imports {b or 'himnet_lib'} ({lb})")
    return out


def test_the_package_is_its_layers():
    """5-8 layer folders, each a package, at most a few modules at the top, and every module small."""
    layers = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert set(layers) == set(MAY_IMPORT) - {"cli"}
    assert 5 <= len(layers) <= 8
    assert all((PACKAGE / d / "__init__.py").is_file() for d in layers)
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_docs_map_is_the_layer_map():
    """docs/architecture.md's package table lists every layer and what it may import."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    rows = {}
    for r in text.splitlines():
        m = re.match(r"\| `(\w+)(?:/|\.py)?` \| .* \| (.*) \|$", r)
        if m:
            rows[m.group(1)] = set(re.findall(r"`(\w+)/?`", m.group(2)))
    assert rows == MAY_IMPORT


def test_no_import_cycle():
    graph, _ = import_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_imports_go_one_way():
    graph, _ = import_graph()
    assert wrong_way_imports(graph) == []


def test_no_private_names_across_modules():
    _, private = import_graph()
    assert private == []


def test_the_checks_see_a_cycle_a_wrong_way_and_a_private_import(tmp_path):
    """The checks on a toy package: a function-level import closing a cycle between folders, and an
    import of a private name."""
    pkg = tmp_path / "himnet_lib"
    for d in ("utils", "study"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "utils" / "low.py").write_text("def f():\n    from himnet_lib.study.high import g\n    return g\n")
    (pkg / "study" / "high.py").write_text("from ..utils.low import f, _hidden\n")
    graph, private = import_graph(pkg)
    assert graph["utils.low"] == {"study.high"} and graph["study.high"] == {"utils.low"}
    assert find_cycle(graph) == ["study.high", "utils.low", "study.high"]
    assert wrong_way_imports(graph) == ["utils.low (utils) imports study.high (study)"]
    assert private == ["study.high: from utils.low import _hidden"]


def _loaded(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after ``code``."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return {m.split(".")[0] for m in out.stdout.split()}


def test_the_analysis_layers_load_no_torch():
    mods = [m for m in module_files() if m and layer_of(m) in TORCH_FREE]
    assert len(mods) > 30
    assert "torch" not in _loaded("\n".join(f"import himnet_lib.{m}" for m in mods))


def test_evaluate_and_help_load_no_torch():
    """``himnet --help`` and ``himnet evaluate --help`` parse without loading torch (the numpy jobs
    stay light; ``python -X importtime -m himnet_lib.cli evaluate --help`` shows the same)."""
    for argv in (["--help"], ["evaluate", "--help"]):
        code = ("import sys\nfrom himnet_lib.cli import main\n"
                f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass")
        assert "torch" not in _loaded(code), argv


def test_running_many_runs_loads_torch_only_to_train():
    """The executor and reproduce import without torch: a notebook whose runs are all finished reads
    its records without loading it (the training worker imports it)."""
    assert "torch" not in _loaded("import himnet_lib.engine.executor, himnet_lib.engine.reproduce")
