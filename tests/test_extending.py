"""docs/extending.md's paths walked as a user would: in a copy of the package, a toy loss term is added
in three library files (its spec, its function, its Table 3 row) and a toy profile in one, exactly as
the document says, with no monkeypatching; a fresh interpreter on the copy then finds the term in
training, the grid, Table 3, the claims and ``runs.csv``, and the profile everywhere a profile is read.
Adding the term leaves the run ids of every existing run as they were."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from himnet_lib.utils.paths import PACKAGE_DIR

# The edits of docs/extending.md, as text: (file under himnet_lib/, text it must hold, text put there).
TERM_SPEC = '    TermSpec("toy", ("attention",), 0.5, ablation=True, equation="a toy: mean attention"),\n'
TERM_FUNCTION = '''"""A toy loss term: the mean attention (tests/test_extending.py)."""

from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.modeling.losses.common import promote
from himnet_lib.modeling.losses.registry import term


def toy_loss(attention: Tensor) -> Tensor:
    """mean_t a_t, averaged over the batch. attention (B,T) -> ()."""
    return promote(attention).mean()


@term("toy")
def _toy_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    return toy_loss(out.attention)
'''
TOY_PROFILE = '''    Profile("toy-data", {"train.iterations": 10, "train.seq_len": 32}, step_seconds=0.5,
            tiou="activitynet", selection=(20, 10)),
'''
TERM_EDITS = [
    ("config/terms.py", '    TermSpec("mu", ("attention_parts",), 1.0, equation="CO2-Net (lineage reading)"),\n',
     TERM_SPEC),
    ("study/grids.py", '    ("Exp 8", ("mil", "scl")),\n', '    ("Exp 9", (*FULL, "toy")),\n'),
    ("study/grids.py", 'CORE_ROWS = ("Exp 1", "Exp 2", "Exp 3", "Exp 4"', ', "Exp 9"'),
]
PROFILE_EDIT = ("config/profiles.py", '    }, step_seconds=1.0, tiou="activitynet"),\n', TOY_PROFILE)


def _apply(root: Path, path: str, anchor: str, text: str) -> None:
    """Put ``text`` right after ``anchor`` in ``root/path`` (the anchor must be there, once)."""
    f = root / path
    src = f.read_text()
    assert src.count(anchor) == 1, f"{path}: docs/extending.md's anchor moved: {anchor!r}"
    f.write_text(src.replace(anchor, anchor + text))


def _changed(original: Path, copy: Path) -> set[str]:
    """Files of ``copy`` that differ from (or are not in) ``original``."""
    out = set()
    for f in copy.rglob("*.py"):
        rel = f.relative_to(copy)
        if not (original / rel).exists() or (original / rel).read_bytes() != f.read_bytes():
            out.add(str(rel))
    return out


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> Path:
    """A copy of the package with the toy term (3 files) and the toy profile (1 file) added."""
    root = tmp_path_factory.mktemp("extended")
    pkg = root / "himnet_lib"
    shutil.copytree(PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for edit in TERM_EDITS:
        _apply(pkg, *edit)
    (pkg / "modeling" / "losses" / "toy.py").write_text(TERM_FUNCTION)
    _apply(pkg, *PROFILE_EDIT)
    return root


def test_the_term_takes_three_files_and_the_profile_one(extended):
    changed = _changed(PACKAGE_DIR, extended / "himnet_lib")
    assert changed == {"config/terms.py", "modeling/losses/toy.py", "study/grids.py", "config/profiles.py"}


def _run(extended: Path, code: str, cwd: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(extended), "HIMNET_RESULTS": str(cwd / "results")}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                         cwd=cwd, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_toy_term_is_trained_ablated_claimed_and_recorded(extended, tmp_path, smoke_root):
    got = _run(extended, f"""
        import json, math
        import himnet_lib, torch
        assert himnet_lib.__file__.startswith({str(extended)!r})
        from himnet_lib.config import build_config
        from himnet_lib.config.loss import LossConfig
        from himnet_lib.engine.executor import run_specs
        from himnet_lib.modeling.himnet import build_model
        from himnet_lib.modeling.losses import compose_losses
        from himnet_lib.config.sections import ModelConfig
        from himnet_lib.study import claims, claims_table, grids, manifest, run_table, tables

        # training composes it with its spec's weight, and --set reaches its generated setting
        cfg = LossConfig(terms=("mil", "toy"), topk_ratio=4.0)
        model = build_model(ModelConfig(feature_dim=8, num_classes=3, attention_hidden=4, head_hidden=8))
        out = model(torch.randn(2, 12, 8))
        total, parts = compose_losses(out, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]), cfg)
        weighted = float((parts["mil"] + 0.5 * out.attention.mean()).detach())
        set_weight = build_config("smoke", {{"loss.lambda_toy": 2.0, "loss.terms": "mil,toy"}}).loss.lambda_toy

        # the grid, the manifest's Table 3 runs and the claims' runs have its row; the claim is derived
        specs = [s for s in manifest.entry("02_ablation_table3").specs("smoke", 2) if s.label in ("Exp 4", "Exp 9")]
        claim = [c for c in claims.declared_claims() if c.name == "TOY improves AVG (Exp 9 vs Exp 4)"]
        claimed_rows = {{(s.table, s.label) for s in claims.claims_specs("smoke", 2, 1)}}
        run_specs(specs, {str(smoke_root)!r}, "runs", workers=1, threads=1, log=lambda s: None)
        df = run_table.collect(specs, "runs")
        t3 = tables.table3(df, rows=[r for r in grids.TABLE3_ROWS if r[0] in ("Exp 4", "Exp 9")])
        records = run_table.run_records(specs, "runs")
        table = claims_table.claims_table(records, claim)
        print(json.dumps({{
            "total": float(total.detach()), "weighted": weighted, "parts": sorted(parts), "set_weight": set_weight,
            "terms": [list(s.config().loss.terms) for s in specs if s.label == "Exp 9"][0],
            "dose": claim[0].dose if claim else None, "claimed": sorted(map(list, claimed_rows)),
            "table3_columns": list(t3.columns), "toy_marks": list(t3["L_TOY"]),
            "runs_columns": list(run_table.run_columns()),
            "weights": {{r["label"]: r["loss.lambda_toy"] for r in records}},
            "claim_rows": len(table), "claim_n": int(table["n_seeds"].iloc[0]),
            "claim_finite": math.isfinite(float(table["our_effect"].iloc[0]))}}))
    """, tmp_path)
    assert got["parts"] == ["mil", "toy"] and got["total"] == pytest.approx(got["weighted"], rel=1e-6)
    assert got["set_weight"] == 2.0
    assert got["terms"] == ["mil", "cll", "vcl", "scl", "toy"]
    assert got["dose"] == "toy"                                    # it has a weight: its dose-response rows too
    assert ["table3", "Exp 9"] in got["claimed"] and ["dose", "toy x10"] in got["claimed"]
    assert "L_TOY" in got["table3_columns"] and got["toy_marks"] == ["", "✓"]
    assert "loss.lambda_toy" in got["runs_columns"]
    assert got["weights"] == {"Exp 4": 0.0, "Exp 9": 0.5}           # the weight it trained with, by its setting
    assert got["claim_rows"] == 2 and got["claim_n"] == 2 and got["claim_finite"]   # both readouts, paired


def test_the_toy_profile_is_read_wherever_a_profile_is(extended, tmp_path):
    got = _run(extended, """
        import json
        from himnet_lib.cli import build_parser
        from himnet_lib.config import build_config
        from himnet_lib.engine.slurm import estimate_minutes
        from himnet_lib.study import grids, workspace
        cfg = build_config("toy-data")
        parser = build_parser()
        try:
            workspace.ensure_data("toy-data", None, workspace.results_root("toy-data"))
            needs_data = ""
        except Exception as e:
            needs_data = str(e)
        print(json.dumps({"iterations": cfg.train.iterations, "reading": cfg.reading,
                          "benchmarks": list(grids.benchmarks("toy-data")),
                          "selection": list(grids.selection_schedule("toy-data")),
                          "minutes": estimate_minutes("toy-data", 1200),
                          "cli": parser.parse_args(["reproduce", "--profile", "toy-data"]).profile,
                          "needs_data": needs_data, "run_id": grids.table3_specs("toy-data", 1)[0].run_id}))
    """, tmp_path)
    assert got["iterations"] == 10 and got["reading"] == "literal"
    assert got["benchmarks"] == ["data"] and got["selection"] == [20, 10]
    assert got["minutes"] == 18   # (1200 x 0.5 s + 120 s) x 1.5 / 60
    assert got["cli"] == "toy-data" and "needs real data" in got["needs_data"]
    assert got["run_id"].startswith("toy-data-s0-")


def test_adding_the_term_leaves_every_existing_run_id_unchanged(extended, tmp_path):
    """Every run of every notebook of both study profiles keeps its id in the extended copy."""
    code = """
        import json
        from himnet_lib.engine.reproduce import all_study_specs
        print(json.dumps({p: sorted({s.run_id for s in all_study_specs(p, 3, 2) if s.label != "Exp 9"
                                     and not s.label.startswith("toy")}) for p in ("smoke", "demo")}))
    """
    here = _run(PACKAGE_DIR.parent, code, tmp_path)
    there = _run(extended, code, tmp_path)
    assert here == there and len(here["demo"]) > 100


def test_an_unknown_term_is_refused():
    from himnet_lib.config.loss import LossConfig
    with pytest.raises(ValueError, match="unknown term"):
        LossConfig(terms=("mil", "toy"))
