"""Reader of the per-video layout used by BaS-Net, UM, LACP and CoLA.

Layout::

    ROOT/gt.json                              {"database": {vid: {"subset": "train"|"test",
                                                 "annotations": [{"segment": ["18.6", "24.8"], "label": "HighJump"}],
                                                 "duration": 123.4 (optional)}}}
    ROOT/split_train.txt, ROOT/split_test.txt one video name per line (optional)
    ROOT/features/{train,test}/{rgb,flow}/<vid>.npy   (T, D) each; concatenated as [rgb | flow]
    ROOT/classlist.txt                        optional, one class name per line (index = class id)

Choices (documented, they differ from BaS-Net's hard-coded ``class_dict``):

- Classes: ``classlist.txt`` if present, else the **sorted set of labels in gt.json** (all subsets), which
  for THUMOS14 equals the alphabetical 20-class list of the W-TALC bundle.
- Videos: the names listed in the split files, in file order, each in that file's subset (BaS-Net
  uses the split files, hence 210 THUMOS test videos); without split files, every gt.json entry with
  its own ``subset``.
- Video-level labels: the set of segment labels (BaS-Net derives them from gt.json too).
- Duration: gt.json ``duration`` when present, else ``T * snippet_seconds``.
- Features are memory-mapped and concatenated on each access (not cached), so RAM stays bounded;
  NaN/Inf are checked on access (and for every video by ``check_data``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from himnet_lib.datasets.bundle import parse_segments
from himnet_lib.datasets.dataset import Dataset, Video
from himnet_lib.datasets.safe_npy import load_npy
from himnet_lib.datasets.validate import Issues, check_features, most_common
from himnet_lib.utils.errors import DataError
from himnet_lib.utils.fileio import loads_bounded, read_text_utf8

GT_FILE = "gt.json"
SUBSETS = ("train", "test")


def is_pervideo(root: str | Path) -> bool:
    return (Path(root) / GT_FILE).is_file()


def _text_file(path: Path) -> str:
    try:
        return read_text_utf8(path)
    except (OSError, ValueError) as e:
        raise Issues.fail(f"cannot read text file: {e}", file=str(path)) from None


def safe_name(name: str) -> bool:
    """A video or subset name usable as one path component (no separator, no '..', not absolute)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name


def stream_path(root: Path, subset: str, stream: str, video: str) -> Path:
    return root / "features" / subset / stream / f"{video}.npy"


@dataclass(frozen=True)
class PerVideoFeatures:
    """Zero-argument loader: (T, D_rgb + D_flow) float32 from two memory-mapped files (picklable)."""

    rgb: Path
    flow: Path
    video: str

    def __call__(self) -> np.ndarray:
        r = load_npy(self.rgb, mmap_mode="r")
        f = load_npy(self.flow, mmap_mode="r")
        x = np.concatenate([r, f], axis=1).astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            check_features(x, issues=Issues(), file=f"{self.rgb} + {self.flow}", video=self.video, expected_dim=None)
        return x


def _annotation_problem(a: Any) -> str | None:
    """Why an annotation is not ``{"segment": [start, end], "label": ...}`` with finite numbers (or
    their strings) in order; None when it is."""
    if not isinstance(a, dict) or "segment" not in a or "label" not in a:
        return "expected an object with 'segment' and 'label'"
    seg = a["segment"]
    if isinstance(seg, (str, bytes, dict)) or not hasattr(seg, "__len__") or len(seg) != 2:
        return f"segment must be a list [start, end], got {seg!r}"
    try:
        s, e = (float(t) for t in seg)
    except (TypeError, ValueError):
        return f"segment boundaries must be numbers, got {seg!r}"
    if not (math.isfinite(s) and math.isfinite(e)):
        return f"segment boundaries must be finite, got {seg!r}"
    if e < s:
        return f"segment end before start: {seg!r}"
    return None


def _stream_shape(path: Path, *, video: str, issues: Issues) -> tuple[int, ...] | None:
    try:
        return load_npy(path, mmap_mode="r").shape
    except DataError as e:
        issues.report(str(e).split(" [")[0], file=str(path), video=video, field="features")
        return None


def read_pervideo(root: str | Path, *, snippet_seconds: float, feature_dim: int | None,
                  issues: Issues) -> Dataset | None:
    """Read a BaS-Net style root. Returns None only in collecting mode when nothing can be read."""
    root = Path(root)
    gt_path = root / GT_FILE
    try:
        gt = loads_bounded(gt_path.read_bytes())
        database = gt["database"]
        if not isinstance(database, dict):
            raise TypeError("'database' is not an object")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise Issues.fail(f"cannot read ground truth: {type(e).__name__}: {e}", file=str(gt_path),
                          field="database") from None

    cl_path = root / "classlist.txt"
    if cl_path.is_file():
        classes = [ln.strip() for ln in _text_file(cl_path).splitlines() if ln.strip()]
    else:
        classes = sorted({a["label"] for v in database.values() if isinstance(v, dict)
                          and isinstance(v.get("annotations"), list)
                          for a in v["annotations"] if isinstance(a, dict) and isinstance(a.get("label"), str)})
    class_id = {c: i for i, c in enumerate(classes)}

    entries: list[tuple[str, Any]] = []  # (video, subset): a subset from gt.json is checked below
    splits = [(s, root / f"split_{s}.txt") for s in SUBSETS]
    from_splits = any(p.is_file() for _, p in splits)
    if from_splits:
        for subset, p in splits:
            if p.is_file():
                entries += [(name, subset) for name in _text_file(p).split()]
    else:
        entries = [(vid, v.get("subset")) if isinstance(v, dict) else (vid, "") for vid, v in database.items()]

    records: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    for vid, subset in entries:
        if not isinstance(subset, str) or (not subset and isinstance(database.get(vid), dict)):
            issues.report(f"video has no 'subset' (a string; no split file lists it), got {subset!r}",
                          file=str(gt_path), video=vid, field="subset")
            continue
        if not safe_name(vid) or (subset and not safe_name(subset)):
            issues.report("video name is not a plain file name (a path separator, '..' or an absolute path): "
                          "its feature paths would leave the data root", file=str(gt_path), video=vid, field="name")
            continue
        if vid in seen:
            issues.report("duplicate video name (its ground truth would be merged with the other's)",
                          file=str(gt_path), video=vid, field="name")
            continue
        seen.add(vid)
        entry = database.get(vid)
        if not isinstance(entry, dict):
            issues.report("video listed in the split file has no entry in gt.json" if from_splits else
                          f"video entry must be an object, got {type(entry).__name__}", file=str(gt_path),
                          video=vid, field="database")
            continue
        ok = True
        raw_segs, seg_cls = [], []
        anns = entry.get("annotations", [])
        if not isinstance(anns, list):
            issues.report(f"'annotations' must be a list, got {type(anns).__name__}", file=str(gt_path), video=vid,
                          field="annotations")
            ok, anns = False, []
        for k, a in enumerate(anns):
            problem = _annotation_problem(a)
            if problem:
                issues.report(f"annotation {k}: {problem}", file=str(gt_path), video=vid,
                              field=f"annotations[{k}]" + (".segment" if "segment" in problem else ""))
                ok = False
                continue
            seg, label = [float(t) for t in a["segment"]], a["label"]
            if not isinstance(label, str):
                issues.report(f"label must be a string, got {label!r} (annotation {k})", file=str(gt_path),
                              video=vid, field=f"annotations[{k}].label")
                ok = False
                continue
            if label not in class_id:
                issues.report(f"unknown class name {label!r} (annotation {k}) not in the class list",
                              file=str(gt_path), video=vid, field=f"annotations[{k}].label")
                ok = False
                continue
            raw_segs.append(seg)
            seg_cls.append(class_id[label])
        segs = parse_segments(raw_segs, issues=issues, file=str(gt_path), video=vid)
        ok &= segs is not None

        rgb, flow = stream_path(root, subset, "rgb", vid), stream_path(root, subset, "flow", vid)
        rs = _stream_shape(rgb, video=vid, issues=issues)
        fs = _stream_shape(flow, video=vid, issues=issues)
        if rs is None or fs is None:
            continue
        if len(rs) != 2 or len(fs) != 2:
            issues.report(f"each stream must be (T, D); got rgb {rs}, flow {fs}", file=str(rgb), video=vid,
                          field="features")
            continue
        if rs[0] != fs[0]:
            issues.report(f"rgb has {rs[0]} snippets but flow has {fs[0]}", file=f"{rgb} + {flow}", video=vid,
                          field="features")
            continue
        if rs[0] == 0:
            issues.report("zero-length video: features have T=0 snippets", file=str(rgb), video=vid,
                          field="features")
            continue
        T, D = rs[0], rs[1] + fs[1]
        duration = entry.get("duration")
        try:
            duration = float(duration) if duration is not None and not isinstance(duration, bool) else (
                T * snippet_seconds if duration is None else math.nan)
        except (TypeError, ValueError):
            duration = float("nan")
        if not (math.isfinite(duration) and duration > 0):
            issues.report(f"duration must be a positive number, got {entry.get('duration')!r}",
                          file=str(gt_path), video=vid, field="duration")
            ok = False
        if ok:
            records.append((vid, subset, segs, np.asarray(seg_cls, np.int64), duration, T, D, rgb, flow))

    ref_dim = feature_dim if feature_dim is not None else most_common(r[6] for r in records)
    videos = []
    for vid, subset, segs, seg_cls, duration, T, D, rgb, flow in records:
        if ref_dim is not None and D != ref_dim:
            issues.report(f"feature dimension {D} differs from the expected {ref_dim}", file=f"{rgb} + {flow}",
                          video=vid, field="features")
            continue
        labels = np.zeros(len(classes), np.float32)
        labels[seg_cls] = 1.0
        videos.append(Video(name=vid, subset=subset, labels=labels, segments=segs, segment_classes=seg_cls,
                            duration=duration, _num_snippets=T, _source=PerVideoFeatures(rgb, flow, vid)))
    return Dataset(name=root.name, root=root, classes=classes, videos=videos, snippet_seconds=snippet_seconds,
                   ambiguous={}, train_subset="train", test_subset="test", _feature_dim=int(ref_dim or 0),
                   layout="pervideo", label_source="segments")
