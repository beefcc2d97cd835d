"""Run many trainings: execute each run by papermill on ``notebooks/01_train.ipynb``, skip runs
whose finished records match their settings, run in parallel locally or on Slurm (submitit), and
aggregate the run records into tables. Aggregation reads only the run records."""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import HimnetError, RunError
from .io import atomic_write_text
from .paths import notebooks_dir, results_dir
from .registry import STUDY, study_notebooks
from .study import RunSpec, unique_runs

SYNTHETIC_PROFILES = {"smoke": "smoke", "demo": "demo"}
TRAIN_NOTEBOOK = "01_train.ipynb"
STUDY_NOTEBOOKS = study_notebooks()   # himnet_lib.registry is the one list


def results_root(profile: str, results: str | os.PathLike | None = None) -> Path:
    return Path(results) if results else results_dir() / profile


def ensure_data(profile: str, data_root: str | os.PathLike | None, results: Path, seed: int = 0,
                benchmark: str = "") -> Path:
    """The dataset root for a study: the user's, or the synthetic preset of ``profile`` (or the
    given ``benchmark`` preset, see :data:`himnet_lib.study.BENCHMARKS`) generated once under
    ``<results>/data`` (deterministic, so regenerating gives the same files)."""
    from .study import benchmarks
    main = benchmarks(profile)[0]
    if data_root and benchmark in ("", main):
        return Path(data_root)
    if profile not in SYNTHETIC_PROFILES:
        raise HimnetError(f"profile {profile!r} needs real data: pass --data ROOT "
                          "(see README: THUMOS14 / ActivityNet 1.3 features)")
    from .data.synthetic import make_synthetic
    preset = benchmark or SYNTHETIC_PROFILES[profile]
    out = results / "data" / f"synthetic-{preset}-seed{seed}"
    if not out.exists():
        make_synthetic(preset, seed=seed, out=out)
    return out


def _finished(run_dir: Path, spec: RunSpec, fingerprint: str | None = None) -> bool:
    """A run is done when its metrics exist and its saved settings (and, when given, the data
    fingerprint) are the spec's: a results folder reused with other data is not mistaken for done."""
    if not (run_dir / "metrics.json").exists() or not (run_dir / "params.json").exists():
        return False
    params = json.loads((run_dir / "params.json").read_text())
    if fingerprint is not None and params.get("data", {}).get("fingerprint") != fingerprint:
        return False
    saved = params["config"]
    want = spec.config().to_dict()
    for sec in ("model",):  # dimensions come from the data
        for k in ("feature_dim", "num_classes"):
            saved.get(sec, {}).pop(k, None)
            want.get(sec, {}).pop(k, None)
    return saved == want


def notebook_parameters(spec: RunSpec, data_root: Path, run_dir: Path, threads: int) -> dict[str, Any]:
    """01_train's parameters for ``spec`` (its config resolves to exactly ``spec.config()``)."""
    cfg = spec.config()
    rest = {k: v for k, v in spec.overrides_dict().items() if k not in ("loss.terms", "loss.alpha")}
    return {"profile": spec.profile, "data_root": str(data_root), "losses": ",".join(cfg.loss.terms),
            "alpha": float(cfg.loss.alpha), "seed": spec.seed, "iterations": int(cfg.train.iterations),
            "overrides": rest, "out_dir": str(run_dir), "threads": int(threads),
            # figures cost seconds per run; draw them for the first seed (the one reproduce shows)
            "show_figures": spec.seed == 0}


def execute_notebook(name: str, out_path: Path, parameters: dict[str, Any]) -> Path:
    """Execute ``notebooks/<name>`` by papermill into ``out_path``; volatile metadata is scrubbed."""
    import papermill as pm
    src = notebooks_dir() / name
    if not src.suffix:
        src = src.with_suffix(".ipynb")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.running.ipynb")
    env_before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # papermill passes the environment on to the kernel
    try:
        pm.execute_notebook(str(src), str(tmp), parameters=parameters, cwd=str(notebooks_dir()),
                            kernel_name="python3", progress_bar=False, log_output=False)
    except Exception as e:  # papermill raises its own types; keep the partial notebook for the user
        raise RunError(f"notebook {src.name} failed (partial output kept in {tmp}): {e}") from e
    finally:
        if env_before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = env_before
    _scrub_notebook(tmp)
    os.replace(tmp, out_path)
    return out_path


def _scrub_notebook(path: Path) -> None:
    """Drop timestamps and durations so that reruns of the same study differ only in real changes."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    nb.metadata.get("papermill", {}).pop("start_time", None)
    nb.metadata.get("papermill", {}).pop("end_time", None)
    nb.metadata.get("papermill", {}).pop("duration", None)
    for cell in nb.cells:
        pmeta = cell.metadata.get("papermill")
        if pmeta:
            for k in ("start_time", "end_time", "duration"):
                pmeta.pop(k, None)
        cell.metadata.pop("execution", None)
    atomic_write_text(path, nbformat.writes(nb))


def _run_one(args: tuple[RunSpec, str, str, int, str | None]) -> str:
    spec, data_root, run_dir, threads, fingerprint = args
    run_dir_p = Path(run_dir)
    if _finished(run_dir_p, spec, fingerprint):
        return run_dir
    params = notebook_parameters(spec, Path(data_root), run_dir_p, threads)
    execute_notebook(TRAIN_NOTEBOOK, run_dir_p / "executed.ipynb", params)
    if not (run_dir_p / "metrics.json").exists():
        raise RunError(f"run {spec.run_id} ({spec.table} {spec.label}, seed {spec.seed}) ended without metrics.json")
    return run_dir


def run_specs(specs: Sequence[RunSpec], data_root: str | os.PathLike, runs_dir: str | os.PathLike, *,
              workers: int = 1, executor: str = "local", threads: int | None = None,
              log=None, slurm: dict[str, Any] | None = None) -> list[Path]:
    """Train every spec not yet finished (shared runs once) and return their run dirs in spec order.

    ``executor="local"`` runs ``workers`` papermill kernels at once on this machine;
    ``executor="slurm"`` submits one Slurm job array through submitit (``pip install .[cluster]``),
    with ``slurm`` holding AutoExecutor parameters (partition, gpus_per_node, timeout_min, ...).
    """
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    runs_dir = Path(runs_dir)
    unique = unique_runs(specs)
    fingerprint = None
    if unique:
        from .data import load_dataset
        from .train import dataset_fingerprint
        fingerprint = dataset_fingerprint(load_dataset(data_root, snippet_seconds=unique[0].config().snippet_seconds))
    todo = [s for s in unique if not _finished(runs_dir / s.run_id, s, fingerprint)]
    threads = threads or max(1, (os.cpu_count() or 1) // max(1, workers))
    jobs = [(s, str(Path(data_root).resolve()), str((runs_dir / s.run_id).resolve()), threads, fingerprint)
            for s in todo]
    log(f"{len(unique)} distinct runs, {len(unique) - len(todo)} already finished, {len(todo)} to train "
        f"({executor}, {workers} worker(s), {threads} thread(s) each)")
    failures: list[str] = []
    t0 = time.time()
    if executor == "local":
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(_run_one, j): j[0] for j in jobs}
            for i, (fut, spec) in enumerate(futures.items(), 1):
                try:
                    fut.result()
                    log(f"[{i}/{len(jobs)}] {spec.run_id} ({spec.table} {spec.label}, seed {spec.seed}) "
                        f"done, {time.time() - t0:.0f}s elapsed")
                except Exception as e:  # report every failure at the end, keep the others going
                    failures.append(f"{spec.run_id}: {e}")
                    log(f"[{i}/{len(jobs)}] {spec.run_id} FAILED: {e}")
    elif executor == "slurm":
        try:
            import submitit
        except ImportError:
            raise HimnetError("executor 'slurm' needs submitit: pip install -e '.[cluster]'") from None
        ex = submitit.AutoExecutor(folder=str(runs_dir / "_slurm" / "%j"))
        ex.update_parameters(**{"timeout_min": 240, "slurm_array_parallelism": max(1, workers), **(slurm or {})})
        for job, spec in zip(ex.map_array(_run_one, jobs), todo):
            try:
                job.result()
            except Exception as e:
                failures.append(f"{spec.run_id}: {e}")
    else:
        raise HimnetError(f"unknown executor {executor!r} (local or slurm)")
    if failures:
        raise RunError(f"{len(failures)} run(s) failed:\n  " + "\n  ".join(failures))
    return [runs_dir / s.run_id for s in specs]


# --- aggregation (reads run records only) -------------------------------------------------------

def collect(specs: Iterable[RunSpec], runs_dir: str | os.PathLike):
    """One row per spec with its metrics (fractions) read from ``<runs_dir>/<run_id>/metrics.json``."""
    import pandas as pd
    rows = []
    for s in specs:
        path = Path(runs_dir) / s.run_id / "metrics.json"
        if not path.exists():
            raise RunError(f"run {s.run_id} ({s.table} {s.label}, seed {s.seed}) has no metrics.json in {runs_dir}; "
                           "train it first (runs.run_specs or himnet reproduce)")
        m = json.loads(path.read_text())
        row = {"table": s.table, "label": s.label, "seed": s.seed, "run_id": s.run_id,
               "average_mAP": m["average_mAP"], "average_mAP_0.1_0.5": m.get("average_mAP_0.1_0.5"),
               "snippet_acc": m["snippet_acc"], "fg_bg_acc": m["fg_bg_acc"],
               "wall_time_s": m.get("wall_time_s"), "selection": m.get("selection")}
        for t, v in zip(m["tiou"], m["mAP"]):
            row[f"mAP@{t:g}"] = v
        rows.append(row)
    return pd.DataFrame(rows)


def mean_std(df, by: Sequence[str] = ("label",), metrics: Sequence[str] = ("average_mAP", "snippet_acc"),
             order: Sequence[str] | None = None):
    """Mean and sample std over seeds per row, plus a "45.1 ± 0.1" column per metric (percent)."""
    g = df.groupby(list(by), sort=False)
    out = g.size().rename("n").reset_index()
    for m in metrics:
        mean = g[m].mean().reset_index(drop=True)
        std = g[m].std(ddof=1).fillna(0.0).reset_index(drop=True)
        out[f"{m}_mean"] = mean.values
        out[f"{m}_std"] = std.values
        out[m] = [f"{100 * a:.1f} ± {100 * b:.1f}" for a, b in zip(mean, std)]
    if order is not None:
        key = {lab: i for i, lab in enumerate(order)}
        out = out.sort_values(by[0], key=lambda c: c.map(key)).reset_index(drop=True)
    return out


def write_table(df, name: str, out_dir: str | os.PathLike, float_format: str = "%.4f") -> list[Path]:
    """``<out_dir>/<name>.csv`` (fixed column order, no index) and ``<name>.md``, written atomically."""
    out_dir = Path(out_dir)
    csv_text = df.to_csv(index=False, float_format=float_format, lineterminator="\n")
    md_text = _markdown(df) + "\n"
    return [atomic_write_text(out_dir / f"{name}.csv", csv_text), atomic_write_text(out_dir / f"{name}.md", md_text)]


def _markdown(df) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            cells.append(f"{v:.4f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- the one command ----------------------------------------------------------------------------

def all_study_specs(profile: str, seeds: int, seeds_other: int | None = None,
                    reading: str | None = None) -> list[RunSpec]:
    """Every run of every study notebook (Table 3 rows with ``seeds``, the others ``seeds_other``)."""
    from . import study
    other = seeds if seeds_other is None else seeds_other
    specs = (study.table3_specs(profile, seeds, reading) + study.alpha_specs(profile, other, reading=reading)
             + study.table4_specs(profile, other, reading) + study.table1_specs(profile, other, reading)
             + study.uncertainty_specs(profile, other, reading) + study.table5_specs(profile, other)
             + study.claims_specs(profile, seeds, other) + study.selection_specs(profile))
    return specs


def reproduce(profile: str, *, data_root: str | None = None, seeds: int = 5, seeds_other: int = 3,
              workers: int = 2, executor: str = "local", results: str | None = None,
              notebooks: Sequence[str] | None = None, reading: str | None = None, log=None) -> Path:
    """Regenerate every table and figure: train all runs (shared ones once, in parallel), then
    execute the study notebooks in order, writing ``results/<profile>/{tables,figures,notebooks}``.
    Table 3's rows get ``seeds`` seeds, every other row ``seeds_other`` (at most ``seeds``)."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    t0 = time.time()
    seeds_other = min(seeds_other, seeds)
    root = results_root(profile, results)
    data = ensure_data(profile, data_root, root)
    log(f"data: {data}")
    runs_dir = root / "runs"
    specs = all_study_specs(profile, seeds, seeds_other, reading)
    run_study_specs(specs, profile, root, data_root, workers=workers, executor=executor, log=log)
    names = list(notebooks) if notebooks else list(STUDY_NOTEBOOKS)
    for name in names:
        if not (notebooks_dir() / f"{name}.ipynb").exists():
            log(f"skipping {name}: notebook not present")
            continue
        t1 = time.time()
        kind = {e.notebook: e.seeds for e in STUDY}.get(name, "other")
        params = {"profile": profile, "data_root": str(data), "workers": workers, "results_dir": str(root),
                  "executor": executor, "reading": reading or "",
                  "seeds": seeds_other if kind == "other" else seeds}
        if kind == "both":
            params["seeds_other"] = seeds_other
        execute_notebook(f"{name}.ipynb", root / "notebooks" / f"{name}.ipynb", params)
        log(f"{name}: {time.time() - t1:.0f}s")
    # 01_train as run for the full model (first seed): the unit of work, shown with its outputs.
    from .study import table1_specs
    full = [s for s in table1_specs(profile, 1, reading) if s.label == "HiM-Net"][0]
    src = runs_dir / full.run_id / "executed.ipynb"
    if src.exists():
        atomic_write_text(root / "notebooks" / "01_train.ipynb", src.read_text())
    log(f"reproduce {profile}: done in {time.time() - t0:.0f}s -> {root}")
    return root


def relocalized(specs: Sequence[RunSpec], ds, runs_dir: str | os.PathLike,
                post_processing: Sequence[str] = ("nms", "soft"), label_suffix: str = ""):
    """Score every finished run under each ``localize.nms`` setting from its saved outputs (no
    retraining): one row per (run, post-processing) with per-tIoU mAP and both THUMOS averages.
    The run's own setting must reproduce its ``metrics.json`` (checked)."""
    import numpy as np
    import pandas as pd
    from .train import relocalize
    names = {"nms": "NMS", "soft": "Soft-NMS"}
    rows = []
    for spec in specs:
        run_dir = Path(runs_dir) / spec.run_id
        own = json.loads((run_dir / "metrics.json").read_text())["average_mAP"]
        for pp in post_processing:
            m, _ = relocalize(run_dir, ds, {"localize.nms": pp})
            if pp == spec.config().localize.nms and not np.isclose(m["average_mAP"], own):
                raise RunError(f"re-localizing {spec.run_id} with its own settings gives {m['average_mAP']} "
                               f"but its metrics.json says {own}")
            row = {"Method": spec.label + label_suffix, "Post-processing": names.get(pp, pp),
                   "seed": spec.seed, "run_id": spec.run_id,
                   "average_mAP_0.1_0.5": m.get("average_mAP_0.1_0.5"), "average_mAP": m["average_mAP"]}
            row.update({f"mAP@{t:g}": v for t, v in zip(m["tiou"], m["mAP"])})
            rows.append(row)
    df = pd.DataFrame(rows)
    df["row"] = df["Method"] + " · " + df["Post-processing"]
    return df


def comparison_table(df, order: Sequence[str]):
    """Mean ± std per (method, post-processing) row of :func:`relocalized` output, Table 1 layout."""
    tious = [c for c in df.columns if c.startswith("mAP@")]
    metrics = (*tious, "average_mAP_0.1_0.5", "average_mAP")
    stats = mean_std(df, by=("row",), metrics=metrics, order=order)
    table = df.drop_duplicates("row").set_index("row")[["Method", "Post-processing"]].loc[stats["row"]]
    table = table.reset_index(drop=True)
    column = {"average_mAP_0.1_0.5": "AVG 0.1:0.5", "average_mAP": "AVG 0.1:0.7"}
    for m in metrics:
        table[column.get(m, m.removeprefix("mAP@"))] = stats[m]
    table["n"] = stats["n"]
    for m in metrics:
        table[f"{m}_mean"] = stats[f"{m}_mean"]
        table[f"{m}_std"] = stats[f"{m}_std"]
    return table


def run_study_specs(specs: Sequence[RunSpec], profile: str, results: Path, data_root: str | os.PathLike | None = None,
                    **kwargs) -> dict[str, Path]:
    """:func:`run_specs` for specs on several benchmarks: one call per benchmark with its data root
    (the user's ``data_root`` for the main benchmark). Returns {benchmark: data root}."""
    groups: dict[str, list[RunSpec]] = {}
    for s in specs:
        groups.setdefault(s.benchmark, []).append(s)
    roots = {}
    for bench, group in groups.items():
        roots[bench] = ensure_data(profile, data_root, results, benchmark=bench)
        run_specs(group, roots[bench], results / "runs", **kwargs)
    return roots
