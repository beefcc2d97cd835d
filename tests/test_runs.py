"""The study runner: run identity, sharing of runs between tables, skip logic, aggregation."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from himnet_lib.config import RunConfig
from himnet_lib.engine import executor, reproduce
from himnet_lib.engine.train import train_run
from himnet_lib.study import aggregate, grids, run_table, table_files, workspace
from himnet_lib.utils import errors
from himnet_lib.utils.run_folder import RunDir


def test_run_ids_are_deterministic_and_shared_between_tables():
    t3 = {s.label: s.run_id for s in grids.table3_specs("demo", 1)}
    assert t3 == {s.label: s.run_id for s in grids.table3_specs("demo", 1)}
    assert len(set(t3.values())) == 8
    full = t3["Exp 4"]
    # the full model is Table 3's Exp 4, Table 4's L_SCL row, alpha = 4 in Fig. 6 and Table 1's HiM-Net
    assert {s.run_id for s in grids.table4_specs("demo", 1) if s.label == "L_SCL"} == {full}
    assert {s.run_id for s in grids.alpha_specs("demo", 1) if s.label == "alpha=4"} == {full}
    assert {s.run_id for s in grids.table1_specs("demo", 1) if s.label == "HiM-Net"} == {full}
    # seeds and settings make different runs
    assert grids.table3_specs("demo", 2)[1].run_id != full
    assert len(reproduce.all_study_specs("demo", 3)) > len(grids.unique_runs(reproduce.all_study_specs("demo", 3)))


def test_notebook_parameters_resolve_to_the_spec():
    spec = [s for s in grids.table4_specs("smoke", 1) if s.label == "L_SCL with U(q||p)"][0]
    p = executor.notebook_parameters(spec, Path("/d"), Path("/r"), threads=1)
    cfg = RunConfig.from_dict(p["config"])
    assert cfg.identity() == spec.config().identity() and cfg.loss.scl_centre == "target"
    assert (p["profile"], p["data_root"], p["out_dir"]) == ("smoke", "/d", "/r")


def test_finished_checks_settings_and_data(smoke_root, tmp_path):
    spec = grids.table3_specs("smoke", 1)[0]
    run_dir = tmp_path / spec.run_id
    train_run(spec.config(), smoke_root, run_dir, num_threads=1, progress=False, log=lambda s: None)
    fp = json.loads((run_dir / "params.json").read_text())["data"]["fingerprint"]
    assert executor._finished(run_dir, spec, fp)
    assert not executor._finished(run_dir, spec, "another-dataset")
    other = grids.table3_specs("smoke", 1)[1]
    assert not executor._finished(run_dir, other, fp)
    # run_specs skips it: nothing to train, so no worker is started and nothing is written
    assert executor.run_specs([spec], smoke_root, tmp_path, log=lambda s: None) == [run_dir]
    assert not (run_dir / RunDir.RUNNER_LOG).exists()
    df = run_table.collect([spec], tmp_path)
    assert df.loc[0, "run_id"] == spec.run_id and 0 <= df.loc[0, "average_mAP"] <= 1


def test_mean_std_and_write_table(tmp_path):
    df = pd.DataFrame({"label": ["b", "a", "b", "a"], "average_mAP": [0.30, 0.10, 0.32, 0.14],
                       "snippet_acc": [0.8, 0.7, 0.9, 0.7]})
    t = aggregate.mean_std(df, order=["a", "b"])
    assert list(t["label"]) == ["a", "b"] and list(t["n"]) == [2, 2]
    assert t.loc[0, "average_mAP_mean"] == pytest.approx(0.12)
    assert t.loc[0, "average_mAP_std"] == pytest.approx(0.0282842712, abs=1e-9)  # sample std
    assert t.loc[1, "average_mAP"] == "31.0 ± 1.4"
    paths = table_files.write_table(t, "x", tmp_path)
    assert [p.name for p in paths] == ["x.csv", "x.md"]
    assert pd.read_csv(paths[0])["label"].tolist() == ["a", "b"]
    assert paths[1].read_text().startswith("| label | n |")


def test_run_specs_trains_in_worker_processes_and_records_each_training(smoke_root, tmp_path):
    specs = grids.table3_specs("smoke", 1)[:2]
    lines = []
    dirs = executor.run_specs(specs + specs[:1], smoke_root, tmp_path, threads=1, log=lines.append)
    assert dirs == [tmp_path / s.run_id for s in specs + specs[:1]]
    for d in dirs[:2]:
        (entry,) = (d / RunDir.RUNNER_LOG).read_text().splitlines()
        assert " trained " in entry and "via=process" in entry and "resumed=no" in entry
        assert (d / "metrics.json").exists() and (d / ".lock").exists() and not (d / "executed.ipynb").exists()
    assert any("2 to train (local, via process, 1 worker(s), 1 thread(s) each)" in x for x in lines)
    assert any("trained 2 run(s), reused 0" in x for x in lines)


def test_run_specs_options(smoke_root, tmp_path, monkeypatch):
    with pytest.raises(errors.HimnetError, match="unknown via"):
        executor.run_specs([], smoke_root, tmp_path, via="kernel")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert executor.default_threads(2) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert executor.default_threads(1) == max(1, os.cpu_count() or 1)


def _fake_notebook(name, out, params):
    """Stands in for executing a notebook (module level: the spawned pool processes import it):
    records its start and end time in ``out``, fails for names starting with "bad"."""
    import time
    t0 = time.time()
    time.sleep(0.5)
    out.write_text(f"{t0} {time.time()}")
    if name.startswith("bad"):
        raise RuntimeError(f"{name} broke")
    return time.time() - t0


def test_study_notebooks_run_side_by_side_and_every_failure_is_reported(tmp_path):
    # the notebook stage of reproduce: two at a time in separate processes (papermill changes the
    # working directory, so not threads), every notebook runs even when one fails, and the error
    # names each failed notebook in job order
    cwd = os.getcwd()
    jobs = [(n, n, tmp_path / n, {}) for n in ("a", "bad2", "c", "bad1")]
    logged: list[str] = []
    with pytest.raises(errors.RunError) as e:
        reproduce._execute_notebooks(jobs, 2, logged.append, task=_fake_notebook)
    spans = sorted(tuple(map(float, (tmp_path / n).read_text().split())) for n in ("a", "bad2", "c", "bad1"))
    overlaps = sum(1 for (s0, e0), (s1, _) in zip(spans, spans[1:]) if s1 < e0)
    assert overlaps >= 1 and os.getcwd() == cwd  # side by side; this process's directory untouched
    msg = str(e.value)
    assert "2 notebook(s) failed" in msg and msg.index("bad2") < msg.index("bad1")  # job order
    assert sum("FAILED" in ln for ln in logged) == 2 and sum(ln.endswith("s") for ln in logged) == 2

    # one at a time: in order, in this process, stopping at the first failure
    for n in ("a", "bad2", "c", "bad1"):
        (tmp_path / n).unlink()
    with pytest.raises(RuntimeError, match="bad2 broke"):
        reproduce._execute_notebooks(jobs, 1, logged.append, task=_fake_notebook)
    assert (tmp_path / "a").exists() and (tmp_path / "bad2").exists() and not (tmp_path / "c").exists()


def test_study_specs_on_two_benchmarks_train_in_one_pool(tmp_path, monkeypatch):
    # the main benchmark's runs (left unnamed, they are the main one's) and the second benchmark's
    # go to ONE pool: one call of the local executor, each job with its own dataset root
    specs = (grids.table3_specs("smoke", 1, rows=("Exp 1",))
             + grids.table3_specs("smoke", 1, None, "smoke", rows=("Exp 1", "Exp 4"))  # Exp 1 twice: one run
             + grids.table3_specs("smoke", 1, None, "smoke-b", rows=("Exp 1",)))
    calls: list[list[tuple]] = []

    def fake_local(jobs, **kwargs):
        calls.append(jobs)
        return [], {executor.TRAINED: len(jobs), executor.REUSED: 0}

    monkeypatch.setattr(executor, "_local", fake_local)
    lines: list[str] = []
    roots = executor.run_study_specs(specs, "smoke", tmp_path, workers=2, threads=1, log=lines.append)
    assert set(roots) == {"smoke", "smoke-b"} and roots["smoke"] != roots["smoke-b"]
    assert len(calls) == 1 and len(calls[0]) == 3
    job_roots = [j[1] for j in calls[0]]
    assert job_roots == [str(roots["smoke"].resolve())] * 2 + [str(roots["smoke-b"].resolve())]  # grouped by dataset
    assert [ln for ln in lines if "distinct runs" in ln] == ["3 distinct runs, 0 already finished, 3 to train "
                                                            "(local, via process, 2 worker(s), 1 thread(s) each)"]


def test_per_seed_draws_give_each_seed_its_own_benchmark(tmp_path, monkeypatch):
    """Under the study profile's per-seed draws, seed s trains on draw s of its benchmark (the
    generator is replaced by a marker: only the roots are checked)."""
    made = []

    def fake_make(preset, seed, out):
        made.append((preset, seed))
        Path(out).mkdir(parents=True)
        return Path(out)

    monkeypatch.setattr(workspace, "make_synthetic", fake_make)
    specs = grids.table3_specs("study", 2, None, "demo-b", rows=("Exp 1",))
    roots = [workspace.spec_data(s, None, tmp_path) for s in specs]
    assert [s.draw for s in specs] == [0, 1] and roots[0] != roots[1]
    assert made == [("demo-b", 0), ("demo-b", 1)]
    fixed = grids.table3_specs("demo", 2, None, "demo-b", rows=("Exp 1",))
    assert [s.draw for s in fixed] == [0, 0]


def test_reproduce_passes_notebooks_the_users_data_root_so_per_seed_draws_survive(tmp_path, monkeypatch):
    """A notebook resolves each run's dataset from the parameters reproduce gives it: with no data
    of the user's, seed s of the study profile's main benchmark must still train on draw s (a
    non-empty ``data_root`` stands for every draw: every seed would train on draw 0)."""
    monkeypatch.setattr(workspace, "make_synthetic", lambda preset, seed, out: Path(out).mkdir(parents=True))
    roots = workspace.data_roots("study", None, tmp_path)

    def params(data_root):
        return reproduce.study_notebook_params("02_ablation_table3", "study", data_root, roots, tmp_path, seeds=2,
                                               seeds_other=2, workers=1, executor="local", reading=None,
                                               slurm=None, threads=None, via="process")

    given = params(None)
    specs = grids.table3_specs("study", 2, rows=("Exp 1",))
    got = [workspace.spec_data(s, given["data_root"] or None, tmp_path, given["data_roots"]) for s in specs]
    assert [s.draw for s in specs] == [0, 1]
    assert [p.name for p in got] == [f"synthetic-{specs[0].benchmark}-seed0", f"synthetic-{specs[0].benchmark}-seed1"]
    assert params("/data/thumos")["data_root"] == "/data/thumos"
    assert params("thumos")["data_root"] == str(Path("thumos").resolve())  # papermill runs in the notebook's folder
