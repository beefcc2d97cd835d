"""Committed notebooks are clean (no outputs, execution counts or papermill metadata), in sync
with their paired ``.py:percent`` files, and have exactly one ``parameters`` cell of typed
literals with a comment each (what ``papermill --help-notebook`` documents)."""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from himnet_lib.utils.paths import notebooks_dir

jupytext = pytest.importorskip("jupytext")

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))
STUDY_PARAMETERS = {"profile": ("str", "smoke"), "data_root": ("str", ""), "data_roots": ("dict", {}),
                    "seeds": ("int", 1),
                    "workers": ("int", 1), "results_dir": ("str", ""), "executor": ("str", "local"),
                    "reading": ("str", ""), "slurm": ("dict", {}), "threads": ("int", 0), "via": ("str", "process")}
TRAIN_PARAMETERS = {"profile": ("str", "smoke"), "data_root": ("str", ""), "reading": ("str", ""),
                    "losses": ("str", "mil,cll,vcl,scl"),
                    "alpha": ("float", 4.0), "seed": ("int", 0), "iterations": ("int", 0), "overrides": ("dict", {}),
                    "out_dir": ("str", ""), "threads": ("int", 0), "show_figures": ("bool", True),
                    "config": ("dict", {})}
LINE = re.compile(r"^(?P<name>[A-Za-z_]\w*): (?P<type>int|float|str|bool|list|dict) = (?P<value>.+?)"
                  r"  # (?P<comment>\S.*)$")
TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


def parameter_problems(source: str) -> list[str]:
    """Problems of a parameters cell: each non-blank line must be ``name: type = literal  # comment``
    with a literal of that type."""
    problems = []
    for line in source.splitlines():
        if not line.strip():
            continue
        m = LINE.match(line)
        if not m:
            problems.append(f"not 'name: type = literal  # comment': {line!r}")
            continue
        try:
            value = ast.literal_eval(m["value"])
        except (ValueError, SyntaxError):
            problems.append(f"not a literal: {line!r}")
            continue
        if type(value) is not TYPES[m["type"]]:
            problems.append(f"{m['name']}: {value!r} is not a {m['type']}")
    return problems


def parameters(source: str) -> dict[str, tuple[str, object]]:
    out = {}
    for line in source.splitlines():
        m = LINE.match(line)
        if m:
            out[m["name"]] = (m["type"], ast.literal_eval(m["value"]))
    return out


def parameters_cell(nb) -> str:
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{len(cells)} cells tagged 'parameters' (need exactly one)"
    assert cells[0].cell_type == "code"
    return cells[0].source


def test_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS}
    assert {"01_train", "02_ablation_table3", "03_alpha_sweep_fig6", "04_uncertainty_kde_fig7",
            "05_qualitative_fig8", "06_scl_variants_table4", "07_comparison_table1", "08_generality_table5",
            "09_attention_diagnostics", "10_claims"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "papermill" not in nb.metadata, "papermill metadata: strip with nbstripout --extra-keys"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb.cells):
        assert "papermill" not in cell.metadata, f"cell {i}: papermill metadata"
        assert "execution" not in cell.metadata, f"cell {i}: execution timing metadata"
        assert "injected-parameters" not in cell.metadata.get("tags", []), f"cell {i}: injected parameters"
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs"
            assert cell.execution_count is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_in_sync_with_py_pair(path):
    py = path.with_suffix(".py")
    assert py.exists(), f"{path.name} has no paired {py.name} (jupytext --sync)"
    a = nbformat.read(path, as_version=4)
    b = jupytext.read(py)
    cells_a = [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in a.cells]
    cells_b = [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in b.cells]
    assert cells_a == cells_b, f"{path.name} and {py.name} differ: run jupytext --sync {py}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_typed_commented_parameters_cell(path):
    source = parameters_cell(nbformat.read(path, as_version=4))
    assert parameter_problems(source) == []
    assert parameters(source), "empty parameters cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_with_its_type_and_help(path):
    # papermill's own parser is stricter than Python (e.g. it gives up on "=" inside a comment);
    # a line it cannot parse is missing from --help-notebook and warned about on every run
    papermill = pytest.importorskip("papermill")
    ours = parameters(parameters_cell(nbformat.read(path, as_version=4)))
    seen = papermill.inspect_notebook(str(path))
    assert set(seen) == set(ours), f"papermill cannot parse: {sorted(set(ours) - set(seen))}"
    for name, (typ, _) in ours.items():
        assert seen[name]["inferred_type_name"] == typ and seen[name]["help"], name


def test_train_notebook_parameters_are_the_runner_interface():
    params = parameters(parameters_cell(nbformat.read(notebooks_dir() / "01_train.ipynb", as_version=4)))
    assert params == TRAIN_PARAMETERS


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem != "01_train"], ids=lambda p: p.stem)
def test_study_notebooks_take_the_reproduce_parameters(path):
    # himnet_lib.engine.reproduce.reproduce passes exactly these to every study notebook
    params = parameters(parameters_cell(nbformat.read(path, as_version=4)))
    assert {k: params.get(k) for k in STUDY_PARAMETERS} == STUDY_PARAMETERS


def test_parameter_checker_rejects_bad_cells():
    assert parameter_problems('seed: int = 0  # random seed\nname: str = "x"  # a name') == []
    assert parameter_problems("seed = 0  # untyped") != []
    assert parameter_problems("seed: int = 0") != []                    # no comment
    assert parameter_problems("seed: int = 0.5  # wrong type") != []
    assert parameter_problems("seed: bool = 1  # bool is not int") != []
    assert parameter_problems("root: str = str(1)  # computed") != []
    assert parameter_problems("import os") != []
