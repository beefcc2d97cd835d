"""Dataset summaries and the ``himnet check-data`` validation (every problem, not just the first)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from himnet_lib.datasets.dataset import DEFAULT_SNIPPET_SECONDS, Dataset
from himnet_lib.datasets.validate import Issues
from himnet_lib.utils.errors import DataError

PERCENTILES = (5, 25, 50, 75, 95)


def _describe(values) -> dict:
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {"n": 0}
    out = {"n": int(a.size), "mean": float(a.mean()), "min": float(a.min())}
    out.update({f"p{q}": float(v) for q, v in zip(PERCENTILES, np.percentile(a, PERCENTILES))})
    out["max"] = float(a.max())
    return out


def summarize(ds: Dataset) -> dict:
    """Counts and distributions per subset (videos, instances, durations, instance lengths, T)."""
    subsets = {}
    present = {v.subset for v in ds.videos}
    order = [s for s in (ds.train_subset, ds.test_subset) if s in present] + sorted(
        present - {ds.train_subset, ds.test_subset})
    for name in order:
        vids = ds.subset(name)
        lens = np.concatenate([np.diff(v.segments, axis=1)[:, 0] for v in vids]) if vids else np.zeros(0)
        ncls = np.asarray([len(np.unique(v.segment_classes)) for v in vids])
        subsets[name] = {
            "videos": len(vids),
            "instances": int(sum(len(v.segments) for v in vids)),
            "duration_s": _describe([v.duration for v in vids]),
            "instance_len_s": _describe(lens),
            "snippets_per_video": _describe([v.num_snippets for v in vids]),
            "instances_per_video": _describe([len(v.segments) for v in vids]),
            "videos_with_2plus_classes": int((ncls >= 2).sum()),
        }
    label_vs_segments = sum(
        set(np.flatnonzero(v.labels > 0).tolist()) != set(v.segment_classes.tolist()) for v in ds.videos)
    return {
        "name": ds.name,
        "layout": ds.layout,
        "label_source": ds.label_source,
        "root": str(ds.root),
        "num_videos": len(ds.videos),
        "num_classes": ds.num_classes,
        "classes": list(ds.classes),
        "feature_dim": ds.feature_dim,
        "snippet_seconds": ds.snippet_seconds,
        "train_subset": ds.train_subset,
        "test_subset": ds.test_subset,
        "subsets": subsets,
        "snippets_per_video": _describe([v.num_snippets for v in ds.videos]),
        "ambiguous_segments": int(sum(len(a) for a in ds.ambiguous.values())),
        "ambiguous_videos": len(ds.ambiguous),
        # Known quirks of real annotation files; informative, not errors.
        "notes": {
            "videos_without_video_labels": int(sum(v.labels.sum() == 0 for v in ds.videos)),
            "videos_labels_differ_from_segments": int(label_vs_segments),
            "segments_ending_after_video": int(sum((v.segments[:, 1] > v.duration + 1e-6).sum() for v in ds.videos)),
            "zero_length_segments": int(sum((v.segments[:, 1] == v.segments[:, 0]).sum() for v in ds.videos)),
        },
    }


def _pct_line(d: dict, unit: str = "", fmt: str = "{:.1f}") -> str:
    if not d.get("n"):
        return "-"
    parts = " / ".join(fmt.format(d[f"p{q}"]) for q in PERCENTILES)
    return f"{parts}{unit}  (mean {fmt.format(d['mean'])}, max {fmt.format(d['max'])})"


def format_summary(s: dict) -> str:
    lines = [
        f"dataset {s['name']} ({s['layout']}) at {s['root']}",
        f"  {s['num_videos']} videos, {s['num_classes']} classes, feature dim {s['feature_dim']}, "
        f"snippet {s['snippet_seconds']:.4g} s; train subset '{s['train_subset']}', test subset '{s['test_subset']}'",
        f"  ambiguous segments: {s['ambiguous_segments']} in {s['ambiguous_videos']} videos",
        f"  video-level labels from: {s['label_source']}",
        "  percentiles are p5 / p25 / p50 / p75 / p95",
    ]
    if s["layout"] == "wtalc" and s["label_source"] != "labels_all.npy":
        lines.insert(1, "  WARNING: labels_all.npy is missing: video-level labels fall back to the segment "
                        "labels (CO2-Net trains on labels_all.npy; THUMOS14's differ for 28 of 412 videos)")
    for name, sub in s["subsets"].items():
        lines += [
            f"  subset '{name}': {sub['videos']} videos, {sub['instances']} instances, "
            f"{sub['videos_with_2plus_classes']} videos with 2+ classes",
            f"    duration (s):        {_pct_line(sub['duration_s'])}",
            f"    instance length (s): {_pct_line(sub['instance_len_s'])}",
            f"    instances / video:   {_pct_line(sub['instances_per_video'], fmt='{:.0f}')}",
            f"    snippets / video:    {_pct_line(sub['snippets_per_video'], fmt='{:.0f}')}",
        ]
    notes = {k: v for k, v in s["notes"].items() if v}
    if notes:
        lines.append("  notes: " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in notes.items()))
    return "\n".join(lines)


def check_data(root: str | Path, *, snippet_seconds: float = DEFAULT_SNIPPET_SECONDS,
               feature_dim: int | None = None) -> tuple[bool, str]:
    """Validate a dataset root. Returns (True, summary text) or (False, report listing every problem)."""
    from himnet_lib.datasets import read_dataset

    root = Path(root)
    issues = Issues(collect=True)
    ds = None
    if not (math.isfinite(snippet_seconds) and snippet_seconds > 0):
        issues.add(DataError(f"snippet_seconds must be a finite number > 0, got {snippet_seconds}",
                              field="snippet_seconds"))
    else:
        try:
            ds = read_dataset(root, snippet_seconds=snippet_seconds, feature_dim=feature_dim, issues=issues)
        except DataError as e:
            issues.add(e)
        except Exception as e:  # a checker reports, it does not crash
            issues.add(DataError(f"unexpected {type(e).__name__}: {e}", file=str(root)))
    if ds is not None and ds.layout == "pervideo":
        # Lazy per-video features: read every one now (the loader checks NaN/Inf, vectorised per video).
        for v in ds.videos:
            try:
                _ = v.features  # loading the lazy features is the check
            except DataError as e:
                issues.add(e)
    if ds is not None and not issues:  # training needs both subsets (one emptied by problems above is not repeated)
        for subset, vids in ((ds.train_subset, ds.train_videos()), (ds.test_subset, ds.test_videos())):
            if not vids:
                issues.add(DataError(f"the {subset!r} subset has no usable videos (training needs train and test "
                                     "videos)", file=str(root), field="subset"))
    if issues:
        lines = [f"{root}: {len(issues.items)} problem(s) found:"] + [f"  - {m}" for m in issues.messages()]
        return False, "\n".join(lines)
    assert ds is not None
    return True, format_summary(summarize(ds))
