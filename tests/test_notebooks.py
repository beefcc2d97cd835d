"""Every notebook executed by papermill under the ``smoke`` profile, asserting on the files it writes.

The study notebooks share one results folder (module-scoped), so a run used by several tables
(e.g. the full model) is trained once, exactly as ``himnet reproduce`` does. Grids are cut down
(1 seed, 2 alphas) so the whole file takes a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from himnet_lib.engine import executor, notebook_exec, reproduce
from himnet_lib.study import claims, claims_table, grids, mechanism_map, run_table, workspace
from himnet_lib.utils.paths import PROJECT_ROOT, notebooks_dir

pytest.importorskip("papermill")
CELL_TIMEOUT_S = 600  # a smoke cell takes under a minute; a hung kernel connection fails here, not in CI's limit
jupytext = pytest.importorskip("jupytext")


@pytest.fixture(scope="module", autouse=True)
def _quiet_home(tmp_path_factory):
    """Jupyter, IPython and matplotlib state in temporary folders (never $HOME); results too."""
    base = tmp_path_factory.mktemp("jupyter-home")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
            mp.setenv(var, str(base / var.lower()))
        if not os.environ.get("MPLCONFIGDIR"):  # the font cache is slow to build: keep it in the checkout
            mp.setenv("MPLCONFIGDIR", str(PROJECT_ROOT / ".cache" / "matplotlib"))
        mp.setenv("HIMNET_RESULTS", str(base / "results"))  # where "" paths would go
        mp.setenv("TQDM_DISABLE", "1")
        mp.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        yield


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One results folder and the smoke benchmark, shared by every study notebook below."""
    results = tmp_path_factory.mktemp("results-smoke")
    data = workspace.ensure_data("smoke", None, results)
    return {"results": results, "data": data, "executed": results / "notebooks"}


def execute(name: str, shared: dict, **params) -> dict:
    """Run ``notebooks/<name>.ipynb`` with the shared results folder; return the executed notebook."""
    base = {"profile": "smoke", "data_root": str(shared["data"]), "results_dir": str(shared["results"]),
            "seeds": 1, "workers": 2}
    out = notebook_exec.execute_notebook(f"{name}.ipynb", shared["executed"] / f"{name}.ipynb", {**base, **params},
                                         cell_timeout=CELL_TIMEOUT_S)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors
    return nb


def images(nb: dict) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])


def read_table(shared: dict, name: str) -> pd.DataFrame:
    tables = shared["results"] / "tables"
    assert (tables / f"{name}.md").read_text().startswith("|")
    return pd.read_csv(tables / f"{name}.csv", keep_default_na=False)


def assert_fractions(df: pd.DataFrame, cols) -> None:
    for c in cols:
        v = df[c].to_numpy(dtype=float)
        assert np.isfinite(v).all() and (v >= 0).all() and (v <= 1).all(), (c, v)


def assert_figure(shared: dict, name: str) -> None:
    for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
        p = shared["results"] / "figures" / f"{name}.{ext}"
        assert p.read_bytes().startswith(magic), p


def assert_runs_match_specs(shared: dict, specs) -> None:
    """Each run directory was made by 01_train with exactly its spec's settings."""
    for s in specs:
        run_dir = shared["results"] / "runs" / s.run_id
        assert (run_dir / "runner.log").exists() and (run_dir / "metrics.json").exists()
        saved = json.loads((run_dir / "params.json").read_text())["config"]
        want = s.config().to_dict()
        for d in (saved, want):
            d["model"].pop("feature_dim")
            d["model"].pop("num_classes")
        assert saved == want, s


# --- 01_train --------------------------------------------------------------------------------------

def train_notebook_config(params: dict):
    """The RunConfig that 01_train's configuration cell builds from ``params`` (papermill's injection)."""
    nb = jupytext.read(notebooks_dir() / "01_train.py")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    ns: dict = {}
    exec(next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", [])), ns)
    ns.update(params)
    exec("from himnet_lib.config import RunConfig, build_config", ns)
    exec(next(c for c in code if "build_config(" in c), ns)
    return ns["cfg"]


def test_train_notebook_builds_exactly_each_study_runs_config():
    for spec in grids.unique_runs(reproduce.all_study_specs("smoke", 2)):
        params = executor.notebook_parameters(spec, Path("/data"), Path("/run"), 1)
        cfg = train_notebook_config(params)
        assert cfg.to_dict() == spec.config().to_dict() and cfg.identity() == spec.config().identity(), spec


def test_train_notebook_defaults_are_the_full_smoke_model():
    cfg = train_notebook_config({})
    assert cfg.profile == "smoke" and cfg.loss.terms == ("mil", "cll", "vcl", "scl") and cfg.loss.alpha == 4.0
    assert cfg.train.iterations == 24  # 0 = profile default
    assert train_notebook_config({"iterations": 5, "overrides": {"train.lr": 0.5}}).train.lr == 0.5


@pytest.mark.notebooks
def test_01_train(shared, tmp_path):
    run_dir = tmp_path / "run"
    nb = execute("01_train", shared, **{"out_dir": str(run_dir), "losses": "mil,cll", "alpha": 2.0, "seed": 1})
    for name in ("params.json", "history.csv", "metrics.json", "predictions.json", "outputs.npz"):
        assert (run_dir / name).exists(), name
    m = json.loads((run_dir / "metrics.json").read_text())
    assert all(math.isfinite(v) for v in [*m["mAP"], m["average_mAP"], m["snippet_acc"], m["fg_bg_acc"]])
    cfg = json.loads((run_dir / "params.json").read_text())["config"]
    assert cfg["loss"]["terms"] == ["mil", "cll"] and cfg["loss"]["alpha"] == 2.0 and cfg["train"]["seed"] == 1
    assert images(nb) == 3  # loss curves + two timelines


# --- study notebooks --------------------------------------------------------------------------------

@pytest.mark.notebooks
def test_02_ablation_table3(shared):
    nb = execute("02_ablation_table3", shared)
    specs = grids.table3_specs("smoke", 1)
    assert_runs_match_specs(shared, specs)
    t = read_table(shared, "table3")
    assert list(t["Exp"]) == [lab for lab, _ in grids.TABLE3_ROWS]
    for term in ("mil", "cll", "vcl", "scl"):
        assert list(t[f"L_{term.upper()}"] == "✓") == [term in terms for _, terms in grids.TABLE3_ROWS]
    assert_fractions(t, ["average_mAP_mean", "average_mAP_std", "snippet_acc_mean", "snippet_acc_std"])
    assert (t["n"] == 1).all()
    assert t["AVG"].str.fullmatch(r"\d+\.\d ± \d+\.\d").all()
    raw = read_table(shared, "table3_runs")
    assert len(raw) == 8 and set(raw["run_id"]) == {s.run_id for s in specs}
    # the table is the runs' metrics.json, aggregated
    by_label = {s.label: json.loads((shared["results"] / "runs" / s.run_id / "metrics.json").read_text())
                for s in specs}
    np.testing.assert_allclose(t["average_mAP_mean"], [by_label[e]["average_mAP"] for e in t["Exp"]], atol=1e-4)
    assert_figure(shared, "fig_table3")
    assert images(nb) == 1


@pytest.mark.notebooks
def test_03_alpha_sweep_fig6(shared):
    nb = execute("03_alpha_sweep_fig6", shared, seeds=2, alphas=[0.5, 4.0])
    assert_runs_match_specs(shared, grids.alpha_specs("smoke", 2, alphas=[0.5, 4.0]))
    t = read_table(shared, "fig6_alpha")
    assert list(t["alpha"]) == [0.5, 4.0] and list(t["n"]) == [2, 2]
    assert_fractions(t, ["average_mAP_mean", "average_mAP_std"])
    assert_figure(shared, "fig6_alpha")
    assert images(nb) == 1


def _background_u_mean(shared: dict, specs) -> float:
    """Mean of Eq. 9's U(b‖1-a) (two-outcome KL, self-centred) over GT-background snippets, by loops."""
    from himnet_lib.datasets import load_dataset
    from himnet_lib.utils.run_folder import RunDir
    ds = load_dataset(shared["data"])
    total, count = 0.0, 0
    for s in specs:
        lcfg = s.config().loss
        assert lcfg.scl_kl == "bernoulli" and lcfg.scl_centre == "self"
        out = RunDir(shared["results"] / "runs" / s.run_id).outputs()
        for v in ds.test_videos():
            a, b = out[v.name]["attention"], out[v.name]["bg_prob"]
            for t in range(v.num_snippets):
                centre = (t + 0.5) * ds.snippet_seconds
                if any(st <= centre < en for st, en in v.segments):
                    continue
                p = min(max(float(b[t]), 1e-6), 1 - 1e-6)  # the loss clamps both to [eps, 1-eps]
                q = min(max(1.0 - float(a[t]), 1e-6), 1 - 1e-6)
                kl = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
                total += math.exp(-lcfg.alpha * kl)
                count += 1
    return total / count


@pytest.mark.notebooks
def test_04_uncertainty_kde_fig7(shared):
    nb = execute("04_uncertainty_kde_fig7", shared)
    specs = grids.uncertainty_specs("smoke", 1)
    assert_runs_match_specs(shared, specs)
    t = read_table(shared, "fig7_uncertainty").set_index("model")
    assert list(t.index) == [lab for lab, _ in grids.UNCERTAINTY_ROWS]
    assert_fractions(t, ["U_mean", "U_median", "frac_U_gt_0.5"])
    assert (t["background_snippets"] > 0).all()
    for label in t.index:
        want = _background_u_mean(shared, [s for s in specs if s.label == label])
        assert t.loc[label, "U_mean"] == pytest.approx(want, abs=2e-4)
    assert_figure(shared, "fig7_uncertainty_kde")
    assert images(nb) == 1


@pytest.mark.notebooks
def test_05_qualitative_fig8(shared):
    # interactive=False as in every batch run: the picker is tested in-process (tests/test_picker.py),
    # since an Output widget under nbclient can hang the client (see himnet_lib.study.figures.picker)
    nb = execute("05_qualitative_fig8", shared, n_videos=2)
    from himnet_lib.datasets import load_dataset
    from himnet_lib.study.figures.style import safe_name
    names = [v.name for v in load_dataset(shared["data"]).test_videos() if len(v.segments)][:2]
    for name in names:
        assert_figure(shared, f"fig8_{safe_name(name)}")
        assert_figure(shared, f"fig5_{safe_name(name)}")
    # Fig. 8 and Fig. 5 per video
    assert images(nb) == 2 * len(names)


@pytest.mark.notebooks
def test_06_scl_variants_table4(shared):
    nb = execute("06_scl_variants_table4", shared)
    assert_runs_match_specs(shared, grids.table4_specs("smoke", 1))
    t = read_table(shared, "table4")
    assert list(t["Method"]) == [lab for lab, _ in grids.TABLE4_ROWS]
    assert {"0.1", "0.3", "0.5", "0.7", "AVG", "ACC", "n"} <= set(t.columns)
    assert_fractions(t, ["average_mAP_mean", "fg_bg_acc_mean", "mAP@0.1_mean", "mAP@0.7_mean"])
    assert_figure(shared, "fig_table4")
    assert images(nb) == 1


@pytest.mark.notebooks
def test_07_comparison_table1(shared):
    execute("07_comparison_table1", shared)
    specs = grids.table1_specs("smoke", 1)
    assert_runs_match_specs(shared, specs)
    t = read_table(shared, "table1")
    assert list(zip(t["Method"], t["Post-processing"]))[:-1] == [
        (lab, pp) for lab, _ in grids.TABLE1_ROWS for pp in ("NMS", "Soft-NMS")]
    assert t["Method"].iloc[-1].startswith("Trivial")
    cols = [f"mAP@{x / 10:g}_mean" for x in range(1, 8)] + ["average_mAP_0.1_0.5_mean", "average_mAP_mean"]
    assert_fractions(t, cols)
    # AVG 0.1:0.5 is the mean of the first five thresholds
    np.testing.assert_allclose(t["average_mAP_0.1_0.5_mean"], t[cols[:5]].mean(axis=1), atol=1e-3)
    # the runs' own post-processing reproduces their metrics.json
    own = {"soft": "Soft-NMS", "nms": "NMS"}[specs[0].config().localize.nms]
    for s in specs:
        m = json.loads((shared["results"] / "runs" / s.run_id / "metrics.json").read_text())
        row = t[(t["Method"] == s.label) & (t["Post-processing"] == own)]
        assert row["average_mAP_mean"].iloc[0] == pytest.approx(m["average_mAP"], abs=1e-4)
    paper = read_table(shared, "paper_table1_2")
    assert list(paper["Post-processing"]) == ["NMS", "Soft-NMS", "NMS", "Soft-NMS"]
    assert list(paper["AVG"].astype(str)) == ["54.5", "55.2", "24.8", "25.6"]




@pytest.mark.notebooks
def test_08_generality_table5(shared):
    nb = execute("08_generality_table5", shared)
    specs = grids.table5_specs("smoke", 1)
    assert_runs_match_specs(shared, specs)
    assert {json.loads((shared["results"] / "runs" / s.run_id / "params.json").read_text())["config"]["train"]["model"]
            for s in specs} == {"basnet", "hamnet"}
    t = read_table(shared, "table5")
    assert list(t["label"]) == [lab for lab, _ in grids.TABLE5_ROWS]
    assert list(t["Method"]) == [grids.TABLE5_DISPLAY[lab] for lab, _ in grids.TABLE5_ROWS]
    assert list(t["Framework"]) == ["BaS-Net"] * 3 + ["HAM-Net"] * 3
    assert {"0.1", "0.3", "0.5", "0.7", "AVG", "Δ", "n"} <= set(t.columns)
    assert_fractions(t, ["average_mAP_mean", "average_mAP_std", "mAP@0.1_mean", "mAP@0.7_mean"])
    # Δ = mean AVG minus the framework's base row, in points
    base = dict(zip(t["label"], t["average_mAP_mean"]))
    want = [100 * (m - base[f]) for m, f in zip(t["average_mAP_mean"], t["Framework"])]
    np.testing.assert_allclose(t["delta_avg_points"], want, atol=0.02)  # csv means have 4 decimals
    assert list(t["Δ"][t["label"].isin(grids.TABLE5_BASE_ROWS)]) == ["-", "-"]
    by_label = {s.label: json.loads((shared["results"] / "runs" / s.run_id / "metrics.json").read_text())
                for s in specs}
    np.testing.assert_allclose(t["average_mAP_mean"], [by_label[lab]["average_mAP"] for lab in t["label"]], atol=1e-4)
    assert_figure(shared, "fig_table5")
    assert images(nb) == 1


# --- readings, diagnostics and claims --------------------------------------------------------------

@pytest.mark.notebooks
def test_09_attention_diagnostics(shared):
    nb = execute("09_attention_diagnostics", shared)
    diag = read_table(shared, "attention_diagnostics")
    # every Table 3 row compared by the claims, under both readings, on both smoke benchmarks
    assert set(diag["reading"]) == {"literal", "lineage"}
    assert set(diag["benchmark"]) == {"smoke", "smoke-b"}
    assert set(diag["label"]) == set(grids.CORE_ROWS)
    auc = diag["fg_bg_auc_mean"].to_numpy(dtype=float)
    assert np.isfinite(auc).all() and ((auc >= 0) & (auc <= 1)).all()
    sel = read_table(shared, "schedule_selection")
    # learning curves on the validation fold: one point per evaluation of each selection run
    iterations, every = grids.selection_schedule("smoke")
    n_points = iterations // every
    assert len(sel) == len(grids.selection_specs("smoke")) * n_points
    for spec in grids.selection_specs("smoke"):
        params = json.loads((shared["results"] / "runs" / spec.run_id / "params.json").read_text())
        assert params["data"]["evaluated_on"].startswith("validation")
    for name in ("fig_readout_comparison", "fig_attention_distributions", "fig_learning_curves"):
        assert_figure(shared, name)
    assert images(nb) == 4


@pytest.mark.notebooks
def test_10_claims(shared):
    execute("10_claims", shared, seeds=2, seeds_other=1)
    t = read_table(shared, "claims")
    assert list(t.columns) == list(claims_table.CLAIM_COLUMNS)
    from himnet_lib.study.verdicts import VERDICTS
    assert set(t["verdict"]) <= {*VERDICTS, "-"}
    prim = t[t["primary"]]
    tested = [c.name for c in claims.declared_claims() if c.kind != "placebo"]
    assert sorted(prim["claim"]) == sorted(tested)   # exactly one primary per claim
    assert set(t["role"]) <= {"primary", "secondary", "diagnostic", "control"}
    assert (t[t["role"] == "diagnostic"]["verdict"] == "-").all()
    assert set(t["benchmark"]) == {"smoke", "smoke-b"}
    assert {"literal", "lineage", "-"} <= set(t["reading"])
    assert {"fixed", "minmax", "-"} == set(t["readout"])
    assert any(t["claim"].str.startswith("placebo"))
    claims_md = (shared["results"] / "tables" / "claims.md").read_text()
    assert "CLL improves AVG (Exp 2 vs Exp 1)" in claims_md
    # verdicts follow the stated rule from the interval in the same row
    for r in t[t["role"].isin(["primary", "secondary"])].itertuples():
        e, low, high = (float(x) if x != "" else float("nan") for x in (r.paper_effect, r.ci_low, r.ci_high))
        if r.verdict == "reproduces" and r.test == "superiority" and e > 0:
            assert low > 0 and high >= e
        elif r.verdict == "reversed" and r.test == "superiority":
            assert high < 0
        elif r.verdict == "inconclusive" and r.test == "superiority" and e > 0:
            assert low <= 0 <= e <= high
    # the table is rebuilt from runs.csv alone
    rebuilt = claims_table.claims_table(run_table.read_runs_csv(shared["results"] / "tables" / "runs.csv"))
    text = rebuilt.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    assert text == (shared["results"] / "tables" / "claims.csv").read_text()
    assert (shared["results"] / "tables" / "claims_cells.csv").exists()
    assert_figure(shared, "fig_claims")


@pytest.mark.notebooks
def test_11_dose_response(shared):
    nb = execute("11_dose_response", shared, seeds=2, seeds_other=1)
    d = read_table(shared, "dose_response")
    assert set(d["term"]) == set(grids.dose_terms()) and set(d["benchmark"]) == {"smoke", "smoke-b"}
    assert sorted(set(d["factor"])) == [0.0, *grids.DOSE_FACTORS]
    zero = d[d["factor"] == 0]
    assert (zero["weight"] == 0).all() and (zero["avg[minmax]_diff"] == 0).all()
    choice = read_table(shared, "balance_choice")
    assert choice["chosen"].iloc[-1] in ("printed", "reading")
    assert_figure(shared, "fig_dose_response")
    assert images(nb) == 1


@pytest.mark.notebooks
def test_12_mechanisms(shared):
    from himnet_lib.study import mechanisms
    nb = execute("12_mechanisms", shared)
    t = read_table(shared, "mechanisms")
    assert list(t.columns) == list(mechanism_map.TABLE_COLUMNS)
    assert list(dict.fromkeys(t["term"])) == [m.term for m in mechanisms.MECHANISMS]
    assert (t.groupby("term").size() == 2).all() and (t["n_seeds"] == 1).all() and (t["seeds"].astype(str) == "0").all()
    assert np.isfinite(t["structure"].to_numpy(float)).all() and np.isfinite(t["effect"].to_numpy(float)).all()
    # an effect is the runs' metrics.json: CLL at its first level, Exp 2 minus Exp 1 (AVG minmax, points)
    row = t[t["term"] == "cll"].iloc[0]
    avg = {lab: json.loads((shared["results"] / "runs" / grids.RunSpec(
        "mechanisms", lab, 0, (("loss.terms", dict(grids.TABLE3_ROWS)[lab]),), "smoke", row["benchmark"]).run_id
        / "metrics.json").read_text())["by_readout"]["minmax/soft"]["average_mAP"] for lab in ("Exp 1", "Exp 2")}
    assert row["effect"] == pytest.approx(100 * (avg["Exp 2"] - avg["Exp 1"]), abs=1e-3)
    trends = read_table(shared, "mechanism_trends")
    assert list(trends["term"]) == [m.term for m in mechanisms.MECHANISMS] and (trends["claims"] != "").all()
    positions = read_table(shared, "mechanism_positions")
    assert {"smoke", "smoke-b"} <= set(positions.loc[positions["role"] == "benchmark", "benchmark"])
    assert_figure(shared, "fig_mechanism_map")
    assert images(nb) == 1


# --- the registry against what the notebooks wrote --------------------------------------------------

@pytest.mark.notebooks
def test_each_entry_wrote_exactly_its_declared_outputs(shared):
    """After the study notebooks above (any not yet executed in this session is executed here), each
    registry entry's output patterns match files its notebook wrote, and every table and figure
    file is declared by exactly one entry: the README's "What reproduces what" (generated from the
    registry) is what a smoke reproduce writes."""
    from himnet_lib.study import manifest
    results = shared["results"]
    written: dict[str, set[str]] = {}
    for e in manifest.STUDY:
        before = {p.relative_to(results).as_posix() for d in ("tables", "figures") for p in (results / d).glob("*")}
        if not (shared["executed"] / f"{e.notebook}.ipynb").exists():
            execute(e.notebook, shared, **({"seeds_other": 1} if e.seeds == "both" else {}))
        after = {p.relative_to(results).as_posix() for d in ("tables", "figures") for p in (results / d).glob("*")}
        written[e.notebook] = after - before
    files = {p.relative_to(results).as_posix() for d in ("tables", "figures") for p in (results / d).glob("*")}
    owners = {f: [e.notebook for e in manifest.STUDY if any(fnmatch.fnmatch(f, pat) for pat in e.outputs)]
              for f in files}
    assert {f: o for f, o in owners.items() if len(o) != 1} == {}
    for e in manifest.STUDY:
        for pat in e.outputs:
            assert any(fnmatch.fnmatch(f, pat) for f in files), (e.notebook, pat)
        assert all(e.notebook in owners[f] for f in written[e.notebook]), e.notebook
