"""Calibration of a (synthetic) benchmark: where do the study's numbers sit between a floor and a ceiling?

Three reference points per benchmark, all scored with the study's own localization and mAP code:

* :func:`trivial` — the whole-video oracle-label predictor (:func:`himnet_lib.study.grids.trivial_predictions`):
  the floor. A weakly-supervised method that does not beat it localizes nothing.
* :func:`supervised_probe` — a *fully supervised* per-snippet linear classifier (multinomial logistic
  regression over C classes + background, trained on the training videos' snippet labels): a rough
  ceiling for what a linear read-out of the features can do with frame-level labels. Its per-snippet
  accuracy says whether the benchmark is trivially separable (~100 %) or hopeless (~background rate).
* MIL-only runs — read from finished run directories (``metrics.json``), so that the lead can plug in
  the study's own runs.

:func:`calibration_table` assembles the three into one :class:`pandas.DataFrame`.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from himnet_lib.config.localize import LocalizeConfig
from himnet_lib.evaluation.detection import evaluate_results
from himnet_lib.evaluation.groundtruth import gt_from_dataset
from himnet_lib.evaluation.localization import localize_video
from himnet_lib.evaluation.snippet_metrics import snippet_labels
from himnet_lib.study import stats
from himnet_lib.utils import markdown
from himnet_lib.utils.fileio import atomic_write_text
from himnet_lib.utils.run_folder import RunDir

if TYPE_CHECKING:
    import pandas

# Floor for probabilities before the log (keeps cas_supp finite and its OIC contrasts bounded).
LOG_FLOOR = 1e-6


def _memberships(ds, videos) -> list[np.ndarray]:
    return [snippet_labels(v.segments, v.segment_classes, v.num_snippets, ds.snippet_seconds, ds.num_classes)
            for v in videos]


def _training_rows(ds, rng: np.random.Generator, max_snippets: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) training rows of the probe from the training subset.

    A snippet covered by several classes (nested CliffDiving/Diving-like classes, overlapping
    co-occurring instances) gives one row per class, so the softmax learns to share its mass
    between them and both classes can be localized. ``max_snippets`` snippets are drawn without
    replacement (seeded) before this expansion.
    """
    videos = ds.train_videos()
    members = _memberships(ds, videos)
    sizes = np.asarray([m.shape[0] for m in members])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    total = int(offsets[-1])
    pick = np.sort(rng.choice(total, size=min(max_snippets, total), replace=False))
    vid = np.searchsorted(offsets, pick, side="right") - 1
    X_rows, y_rows = [], []
    for i in np.unique(vid):
        t = pick[vid == i] - offsets[i]
        f = np.asarray(videos[i].features, dtype=np.float64)[t]
        m = members[i][t]
        r, c = np.nonzero(m)
        X_rows.append(f[r])
        y_rows.append(c)
    return np.concatenate(X_rows), np.concatenate(y_rows).astype(np.int64)


def supervised_probe(ds, *, max_train_snippets: int = 20000, seed: int = 0, C: float = 1.0,
                     max_iter: int = 300, localize_cfg: LocalizeConfig | None = None,
                     cas: str = "prob") -> dict[str, Any]:
    """Fully supervised per-snippet logistic regression, evaluated per snippet and as a localizer.

    Training: a seeded subsample of ``max_train_snippets`` training-subset snippets, labels from
    :func:`himnet_lib.evaluation.snippet_metrics.snippet_labels` (C+1 columns, last = background; multi-class snippets
    give one row per class), standardized features, sklearn ``LogisticRegression`` (multinomial).

    Evaluation on every test snippet:

    * ``snippet_acc``: argmax over the C+1 probabilities is one of the snippet's GT classes (or
      background when none covers it) — the rule of
      :func:`himnet_lib.evaluation.snippet_metrics.snippet_classification_accuracy`.
    * ``fg_bg_acc``: ``1 - p_bg > 0.5`` agrees with "some GT covers the snippet".
    * ``average_mAP`` (tIoU 0.1:0.7) of :func:`himnet_lib.evaluation.localization.localize_video` with the default
      :class:`LocalizeConfig` (or ``localize_cfg``): attention ``a = 1 - p_bg`` (threshold runs of the
      foreground probability) and ``cas_supp`` = the per-snippet **probabilities** of all C+1
      columns (``cas="prob"``, default). The OIC contrast is then a contrast of class probability
      inside vs around a run, bounded in [-1, 1] like the model's attention-suppressed CAS near
      boundaries; the localizer's top-k softmax over probabilities is nearly flat, so a video is
      localized for its argmax class (the ``class_threshold`` fallback) — the probe gets no help
      from multi-class selection. ``cas="logprob"`` uses ``log max(p, 1e-6)`` (the probe's logits
      normalized per snippet: a proper video-level softmax, unbounded OIC contrasts); on the demo
      preset (seed 0) it scored lower (17.0 vs 23.6 AVG mAP), hence the default.

    Returns a dict: snippet_acc, fg_snippet_acc (the same on GT-covered snippets only), fg_bg_acc,
    average_mAP, mAP (per tIoU), background_fraction, train_rows, test_snippets, fit_seconds,
    seconds, cas.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if cas not in ("logprob", "prob"):
        raise ValueError(f"cas must be 'logprob' or 'prob', got {cas!r}")
    t0 = time.perf_counter()
    K = ds.num_classes + 1
    rng = np.random.default_rng(seed)
    X, y = _training_rows(ds, rng, max_train_snippets)
    scaler = StandardScaler().fit(X)
    t_fit = time.perf_counter()
    clf = LogisticRegression(C=C, max_iter=max_iter).fit(scaler.transform(X), y)
    fit_s = time.perf_counter() - t_fit

    lcfg = localize_cfg or LocalizeConfig()
    videos = ds.test_videos()
    members = _memberships(ds, videos)
    results: dict[str, list[dict[str, Any]]] = {}
    correct = fgbg = total = n_bg = correct_fg = 0
    for v, m in zip(videos, members):
        T = m.shape[0]
        proba = np.zeros((T, K))
        if T:
            proba[:, clf.classes_] = clf.predict_proba(scaler.transform(np.asarray(v.features, dtype=np.float64)))
        hit = m[np.arange(T), proba.argmax(axis=1)]
        correct += int(hit.sum())
        correct_fg += int(hit[~m[:, -1]].sum())
        fg = 1.0 - proba[:, -1]
        fgbg += int(((fg > 0.5) == ~m[:, -1]).sum())
        n_bg += int(m[:, -1].sum())
        total += T
        w = np.log(np.maximum(proba, LOG_FLOOR)) if cas == "logprob" else proba
        prop = localize_video(fg, w, lcfg, ds.snippet_seconds, duration=float(v.duration))
        results[v.name] = [{"label": ds.classes[c], "segment": [s, e], "score": sc}
                           for c, s, e, sc in zip(prop.class_idx.tolist(), prop.start.tolist(),
                                                  prop.end.tolist(), prop.score.tolist())]
    det = evaluate_results(gt_from_dataset(ds), {
        "version": "supervised snippet probe", "results": results,
        "external_data": {"used": False, "details": "frame-level training labels (fully supervised)"}})
    return {
        "snippet_acc": correct / max(total, 1),
        "fg_snippet_acc": correct_fg / max(total - n_bg, 1),
        "fg_bg_acc": fgbg / max(total, 1),
        "average_mAP": float(det.average_mAP),
        "mAP": [float(x) for x in det.mAP],
        "background_fraction": n_bg / max(total, 1),
        "train_rows": int(len(y)),
        "test_snippets": int(total),
        "fit_seconds": fit_s,
        "seconds": time.perf_counter() - t0,
        "cas": cas,
    }


def trivial(ds) -> float:
    """AVG mAP (tIoU 0.1:0.7, fraction) of the whole-video oracle-label predictor on the test subset."""
    from himnet_lib.study.grids import trivial_predictions

    return float(evaluate_results(gt_from_dataset(ds), trivial_predictions(ds)).average_mAP)


def read_run_metrics(run_dirs: Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """``metrics.json`` of each finished run directory (FileNotFoundError names a missing one)."""
    out = []
    for d in run_dirs:
        run = RunDir(d)
        if not run.metrics_path.is_file():
            raise FileNotFoundError(f"no {run.METRICS} in run directory {d} (not finished?)")
        out.append(run.metrics(required=("average_mAP",)))
    return out


def _mean_std(xs: Sequence[float]) -> tuple[float, float]:
    """Mean and sample std of the finite values (std 0 for one value, both NaN for none)."""
    s = stats.mean_sd_se([x for x in xs if x is not None and not math.isnan(x)])
    return s.mean, s.sd if s.n > 1 else (0.0 if s.n == 1 else float("nan"))


def _reference_rows(name: str, presets: Any, seeds: Sequence[int], data: Mapping[str, Any] | None,
                    probe_kwargs: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The trivial and supervised-probe rows of one benchmark (mean ± std over the data seeds)."""
    import tempfile

    from himnet_lib.datasets import load_dataset
    from himnet_lib.datasets.synthetic.writer import make_synthetic

    triv, probe = [], []
    for seed in seeds:
        src = None
        if data and name in data:
            src = data[name][seed] if isinstance(data[name], Mapping) else data[name]
        elif isinstance(presets, Mapping):
            src = presets[name]
        with tempfile.TemporaryDirectory() as tmp:
            if src is None:
                src = make_synthetic(name, seed=seed, out=Path(tmp) / "bench")
            ds = load_dataset(src) if isinstance(src, (str, os.PathLike)) else src
            triv.append(trivial(ds))
            probe.append(supervised_probe(ds, **dict(probe_kwargs or {})))
    tm, ts = _mean_std([100 * x for x in triv])
    pm, ps = _mean_std([100 * p["average_mAP"] for p in probe])
    return [
        {"benchmark": name, "predictor": "trivial (whole video, oracle labels)", "n_seeds": len(triv),
         "avg_mAP_mean": tm, "avg_mAP_std": ts, "snippet_acc": float("nan"), "fg_bg_acc": float("nan"),
         "notes": f"data seeds {list(seeds)}"},
        {"benchmark": name, "predictor": "supervised probe (snippet LogReg)", "n_seeds": len(probe),
         "avg_mAP_mean": pm, "avg_mAP_std": ps,
         "snippet_acc": 100 * float(np.mean([p["snippet_acc"] for p in probe])),
         "fg_bg_acc": 100 * float(np.mean([p["fg_bg_acc"] for p in probe])),
         "notes": (f"data seeds {list(seeds)}; fg snippet acc "
                   f"{100 * float(np.mean([p['fg_snippet_acc'] for p in probe])):.1f}%; "
                   f"{probe[0]['train_rows']} train rows; cas={probe[0]['cas']}; "
                   f"bg fraction {100 * probe[0]['background_fraction']:.1f}%")},
    ]


def calibration_table(presets: Mapping[str, Any] | Sequence[str], seeds: Sequence[int] = (0,),
                      mil_runs: Mapping[str, Any] | None = None, *,
                      data: Mapping[str, Any] | None = None, probe_kwargs: Mapping[str, Any] | None = None,
                      mil_label: str = "MIL-only", references: bool = True) -> "pandas.DataFrame":
    """One row per (benchmark, predictor): trivial, supervised probe, MIL-only runs.

    Args:
        presets: benchmark names (synthetic presets) — or a mapping name -> dataset root / loaded
            Dataset, to calibrate data already on disk.
        seeds: data seeds for trivial and probe (a preset is generated per seed in a temporary
            directory unless ``data`` gives it); mean ± std over them (std with ddof=1; 0 for one seed).
        mil_runs: benchmark -> finished run directories (their ``metrics.json``: ``average_mAP``,
            ``fg_bg_acc``, ``snippet_acc``), one row labelled ``mil_label`` with mean ± std over the
            runs; or benchmark -> {row label: run directories} for several rows (e.g. two budgets).
        data: benchmark -> {seed: dataset root or Dataset}; overrides generation.
        probe_kwargs: passed to :func:`supervised_probe`.
        references: False skips the trivial and probe rows (only the run rows, no data needed).

    Columns: benchmark, predictor, n_seeds, avg_mAP_mean, avg_mAP_std (percent), snippet_acc,
    fg_bg_acc (percent, mean), notes. For runs, snippet_acc is the model's own ``snippet_acc``
    (argmax of its CAS over C+1), for the probe the probe's.
    """
    import pandas as pd

    names = list(presets.keys()) if isinstance(presets, Mapping) else list(presets)
    rows: list[dict[str, Any]] = []
    for name in names:
        if references:
            rows += _reference_rows(name, presets, seeds, data, probe_kwargs)
        runs = (mil_runs or {}).get(name)
        groups = runs if isinstance(runs, Mapping) else ({mil_label: runs} if runs else {})
        for label, dirs in groups.items():
            mets = read_run_metrics(dirs)
            m, s = _mean_std([100 * x["average_mAP"] for x in mets])
            acc = _mean_std([100 * x.get("snippet_acc", float("nan")) for x in mets])[0]
            fg = _mean_std([100 * x.get("fg_bg_acc", float("nan")) for x in mets])
            rows.append({"benchmark": name, "predictor": label, "n_seeds": len(mets),
                         "avg_mAP_mean": m, "avg_mAP_std": s, "snippet_acc": acc, "fg_bg_acc": fg[0],
                         "notes": f"fg_bg_acc std {fg[1]:.2f}; runs: " + ", ".join(Path(r).name for r in dirs)})
    return pd.DataFrame(rows, columns=["benchmark", "predictor", "n_seeds", "avg_mAP_mean", "avg_mAP_std",
                                       "snippet_acc", "fg_bg_acc", "notes"])


def settings_diff(preset: str, reference: str = "demo") -> dict[str, tuple[Any, Any]]:
    """Generator fields whose value differs between two synthetic presets: name -> (reference, preset)."""
    from dataclasses import fields

    from himnet_lib.datasets.synthetic.presets import preset_config

    a, b = preset_config(reference), preset_config(preset)
    return {f.name: (getattr(a, f.name), getattr(b, f.name)) for f in fields(a)
            if getattr(a, f.name) != getattr(b, f.name)}


def _fmt(x: Any, nd: int = 2) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.{nd}f}"
    return str(x)


def write_calibration(df: "pandas.DataFrame", out_stem: str | os.PathLike, *, title: str,
                      preamble: str = "", footer: str = "") -> tuple[Path, Path]:
    """Write ``<out_stem>.csv`` (the table as is) and ``<out_stem>.md`` (title, preamble, table, footer)."""
    out = Path(out_stem)
    out.parent.mkdir(parents=True, exist_ok=True)
    csv = atomic_write_text(out.with_suffix(".csv"), df.to_csv(index=False, float_format="%.4f"))
    head = ["benchmark", "predictor", "n", "AVG mAP (%)", "snippet acc (%)", "fg/bg acc (%)", "notes"]
    rows = []
    for r in df.itertuples(index=False):
        mAP = f"{r.avg_mAP_mean:.2f} ± {r.avg_mAP_std:.2f}" if r.n_seeds > 1 else f"{r.avg_mAP_mean:.2f}"
        rows.append([r.benchmark, r.predictor, str(r.n_seeds), mAP, _fmt(r.snippet_acc, 1), _fmt(r.fg_bg_acc, 1),
                     r.notes])
    text = "\n".join([f"# {title}", "", preamble.strip(), "", markdown.table(head, rows), "", footer.strip(), ""])
    return markdown.write(out.with_suffix(".md"), text), csv


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m himnet_lib.study.calibration --preset demo-b --seeds 0 1 2 --runs "LABEL=DIR,DIR" --out STEM``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m himnet_lib.study.calibration", description=main.__doc__)
    p.add_argument("--preset", required=True, help="synthetic preset (generated per data seed)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="data seeds for trivial and probe")
    p.add_argument("--runs", action="append", default=[], metavar="LABEL=DIR,DIR",
                   help="finished run directories of one row (repeatable)")
    p.add_argument("--train-snippets", type=int, default=20000)
    p.add_argument("--out", required=True, help="output stem: writes STEM.md and STEM.csv")
    p.add_argument("--preamble", default="", help="markdown text before the table")
    p.add_argument("--footer", default="", help="markdown text after the table")
    args = p.parse_args(argv)
    runs = {}
    for spec in args.runs:
        label, _, dirs = spec.partition("=")
        runs[label] = [d for d in dirs.split(",") if d]
    df = calibration_table([args.preset], seeds=args.seeds, mil_runs={args.preset: runs} if runs else None,
                           probe_kwargs={"max_train_snippets": args.train_snippets})
    diff = settings_diff(args.preset) if args.preset != "demo" else {}
    footer = args.footer
    if diff:
        footer = ("Generator settings that differ from `demo` (demo → " + args.preset + "):\n\n" +
                  "\n".join(f"- `{k}`: {a!r} → {b!r}" for k, (a, b) in diff.items()) + "\n\n" + footer)
    md, csv = write_calibration(df, args.out, title=f"Calibration of the synthetic benchmark `{args.preset}`",
                                preamble=args.preamble, footer=footer)
    print(df.to_string(index=False))
    print(f"wrote {md} and {csv}")
    return 0


__all__ = ["supervised_probe", "trivial", "read_run_metrics", "calibration_table", "settings_diff",
           "write_calibration", "main"]


if __name__ == "__main__":
    raise SystemExit(main())
