"""Ground truth and predictions for the detection metric, loaded and validated.

Two containers of flat numpy arrays feed :func:`himnet_lib.evaluation.detection.detection_map`:

* :class:`GroundTruth` - the annotated instances of ONE subset, from an ActivityNet-format JSON
  (``database`` -> ``subset`` / ``annotations``), from a :class:`himnet_lib.datasets.dataset.Dataset`, or from a
  dataset root (W-TALC bundle / per-video layout, through ``himnet_lib.datasets.load_dataset``).
* :class:`Predictions` - an ActivityNet result JSON
  ``{"version", "external_data", "results": {video: [{"label", "segment": [s, e], "score"}]}}``.

Semantics follow the official ActivityNet ``ANETdetection`` loader (see
``docs/evaluation_protocol.md``):

* only videos whose ``subset`` equals the requested subset EXACTLY (case-sensitive) are kept;
* boundaries go through ``float()``, so string segments (``["18.6", "24.8"]``) are accepted;
* the class set is the set of labels occurring in that subset's ground truth, numbered in order of
  first appearance (JSON video order, then annotation order);
* duplicates, zero-length segments and segments past the video end are kept (they count in npos);
* predictions are NOT filtered by subset (a prediction on a foreign video is a false positive).

Validation choices (where the official code crashes or is silent), all raising
:class:`himnet_lib.utils.errors.EvaluationError` with the file, video and field at fault:

* a malformed JSON file, a top-level object that is not a dict;
* ground truth: missing ``database``; (``version``/``taxonomy``, required by the official loader,
  are NOT required: they carry no information); a subset video without ``annotations``; a segment
  that is not two finite numbers or has end < start; a requested subset with no annotated video;
* predictions: missing ``results``, ``version`` or ``external_data`` (the official default
  required fields; pass ``strict=False`` to accept a bare ``results``); a segment that is not two
  finite numbers or has end < start; a score that is not a finite number (bools refused);
* an empty result set (no prediction at all) is refused by :func:`load_predictions` (a file with
  nothing in it is almost always a pipeline bug); in-memory results may be empty
  (``allow_empty=True``), which evaluates to mAP 0;
* a predicted label that is not a ground-truth class of the subset is refused by the metric
  (the official code raises ``KeyError`` there).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from himnet_lib.utils.errors import EvaluationError
from himnet_lib.utils.fileio import loads_bounded

# Preference order when no subset is given for an ActivityNet JSON: the first one that has
# at least one annotation wins (THUMOS files use "test", ActionFormer "Test", ActivityNet
# "validation" since "testing" has no public annotations).
_DEFAULT_SUBSETS = ("test", "Test", "validation", "Validation")


@dataclass(frozen=True)
class GroundTruth:
    """Annotated instances of one subset, as flat arrays (N instances).

    Attributes:
        subset: the subset string the instances were selected with.
        videos: names of the subset's videos, in source order (videos without annotations included).
        classes: labels occurring in the subset, in order of first appearance (the mAP class set).
        video_idx: (N,) int64 index into ``videos``.
        segments: (N, 2) float64 [start, end] in seconds, end >= start.
        class_idx: (N,) int64 index into ``classes``.
        source: where it came from (for messages).
    """

    subset: str
    videos: list[str]
    classes: list[str]
    video_idx: np.ndarray
    segments: np.ndarray
    class_idx: np.ndarray
    source: str = "<ground truth>"

    @property
    def num_instances(self) -> int:
        return int(self.segments.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def instances_per_class(self) -> np.ndarray:
        """(len(classes),) int64 npos of every class (duplicates and zero-length included)."""
        return np.bincount(self.class_idx, minlength=len(self.classes)).astype(np.int64)




# --- helpers ----------------------------------------------------------------------------------

def where(source: str, video: str | None = None, field: str | None = None) -> str:
    parts = [f"file {source}"]
    if video is not None:
        parts.append(f"video {video}")
    if field is not None:
        parts.append(f"field {field}")
    return " [" + ", ".join(parts) + "]"


def read_json(path: str | os.PathLike, what: str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"{what} file not found: {path}")
    try:
        return loads_bounded(path.read_bytes())
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError and the bounds
        raise EvaluationError(f"malformed JSON in {what} file {path}: {e}") from None


def parse_segment(seg: Any, source: str, video: str, field: str) -> tuple[float, float]:
    """float() both boundaries (as the official loader), refusing non-finite values and end < start."""
    if isinstance(seg, (str, bytes)) or not isinstance(seg, Sequence) or len(seg) != 2:
        raise EvaluationError(f"segment must be a list [start, end], got {seg!r}" + where(source, video, field))
    try:
        s, e = float(seg[0]), float(seg[1])
    except (TypeError, ValueError):
        raise EvaluationError(f"segment boundaries must be numbers, got {seg!r}"
                              + where(source, video, field)) from None
    if not (math.isfinite(s) and math.isfinite(e)):
        raise EvaluationError(f"segment boundaries must be finite, got {seg!r}" + where(source, video, field))
    if e < s:
        raise EvaluationError(f"segment end < start: {seg!r}" + where(source, video, field))
    return s, e


# --- ground truth -----------------------------------------------------------------------------

def gt_from_records(subset: str, videos: Sequence[str],
                    annotations: Iterable[tuple[str, str, float, float]],
                    source: str = "<ground truth>") -> GroundTruth:
    """Build a :class:`GroundTruth` from ``(video, label, start, end)`` records.

    ``videos`` lists the subset's videos in order; records must be given in video order then
    annotation order (this order defines the class numbering and the tIoU tie order).
    """
    vindex = {v: i for i, v in enumerate(videos)}
    cindex: dict[str, int] = {}
    vid, cls, seg = [], [], []
    for video, label, s, e in annotations:
        if video not in vindex:
            raise EvaluationError("annotation for a video not in the subset" + where(source, video))
        if not isinstance(label, str):
            raise EvaluationError(f"label must be a string, got {label!r}" + where(source, video, "label"))
        vid.append(vindex[video])
        cls.append(cindex.setdefault(label, len(cindex)))
        seg.append(parse_segment((s, e), source, video, "segment"))
    return GroundTruth(
        subset=subset,
        videos=list(videos),
        classes=list(cindex),
        video_idx=np.asarray(vid, dtype=np.int64),
        segments=np.asarray(seg, dtype=np.float64).reshape(-1, 2),
        class_idx=np.asarray(cls, dtype=np.int64),
        source=source,
    )


def _check_nonempty(gt: GroundTruth, available: Iterable[str]) -> GroundTruth:
    if gt.num_instances == 0:
        avail = ", ".join(repr(s) for s in sorted(set(available)))
        raise EvaluationError(
            f"no ground-truth annotations in subset {gt.subset!r} of {gt.source} "
            f"(subsets present: {avail or 'none'}; the subset comparison is exact and case-sensitive)")
    return gt


def gt_from_anet_json(obj_or_path: Mapping[str, Any] | str | os.PathLike, subset: str | None = None) -> GroundTruth:
    """Ground truth of one subset from an ActivityNet-format JSON (a path or the decoded dict).

    ``subset=None`` picks the first of ``test``, ``Test``, ``validation``, ``Validation`` that has
    annotations, else the only subset present.
    """
    if isinstance(obj_or_path, Mapping):
        obj, source = obj_or_path, "<ground-truth dict>"
    else:
        source = str(obj_or_path)
        obj = read_json(obj_or_path, "ground-truth")
    if not isinstance(obj, Mapping) or "database" not in obj:
        raise EvaluationError("ground-truth JSON has no top-level 'database'" + where(source, field="database"))
    db = obj["database"]
    if not isinstance(db, Mapping):
        raise EvaluationError("'database' must be an object {video: {...}}" + where(source, field="database"))
    subsets: dict[str, int] = {}
    for name, entry in db.items():
        if not isinstance(entry, Mapping) or "subset" not in entry:
            raise EvaluationError("video entry has no 'subset'" + where(source, name, "subset"))
        if not isinstance(entry["subset"], str):
            raise EvaluationError(f"'subset' must be a string, got {entry['subset']!r}" + where(source, name, "subset"))
        anns = entry.get("annotations", [])
        if not isinstance(anns, list):  # before a default subset is chosen by the annotation counts
            raise EvaluationError(f"'annotations' must be a list, got {type(anns).__name__}"
                                  + where(source, name, "annotations"))
        n = len(anns)
        subsets[entry["subset"]] = subsets.get(entry["subset"], 0) + n
    if subset is None:
        subset = next((s for s in _DEFAULT_SUBSETS if subsets.get(s, 0) > 0), None)
        if subset is None:
            if len(subsets) == 1:
                subset = next(iter(subsets))
            else:
                raise EvaluationError(f"cannot choose a default subset among {sorted(map(str, subsets))}; "
                                      f"pass one explicitly" + where(source))
    videos: list[str] = []
    records: list[tuple[str, str, float, float]] = []
    for name, entry in db.items():
        if entry["subset"] != subset:  # exact comparison, as the official loader
            continue
        videos.append(name)
        anns = entry.get("annotations")
        if not isinstance(anns, list):
            raise EvaluationError("subset video has no 'annotations' list" + where(source, name, "annotations"))
        for j, ann in enumerate(anns):
            if not isinstance(ann, Mapping) or "label" not in ann or "segment" not in ann:
                raise EvaluationError("annotation needs 'label' and 'segment'"
                                      + where(source, name, f"annotations[{j}]"))
            s, e = parse_segment(ann["segment"], source, name, f"annotations[{j}].segment")
            if not isinstance(ann["label"], str):
                raise EvaluationError(f"label must be a string, got {ann['label']!r}"
                                      + where(source, name, f"annotations[{j}].label"))
            records.append((name, ann["label"], s, e))
    return _check_nonempty(gt_from_records(subset, videos, records, source), subsets)


def gt_from_dataset(ds: Any, subset: str | None = None) -> GroundTruth:
    """Ground truth of one subset of a :class:`himnet_lib.datasets.dataset.Dataset` (default: its test subset).

    Uses ``Video.segments`` (seconds) and ``Video.segment_classes`` (indices into ``ds.classes``);
    the class set is still the labels that occur in the subset (first appearance order).
    """
    subset = ds.test_subset if subset is None else subset
    source = f"dataset {getattr(ds, 'name', '?')} at {getattr(ds, 'root', '?')}"
    videos = [v for v in ds.videos if v.subset == subset]
    records = []
    for v in videos:
        segs = np.asarray(v.segments, dtype=np.float64).reshape(-1, 2)
        classes = np.asarray(v.segment_classes, dtype=np.int64).reshape(-1)
        if classes.shape[0] != segs.shape[0]:
            raise EvaluationError(f"{segs.shape[0]} segments but {classes.shape[0]} segment classes"
                                  + where(source, v.name, "segment_classes"))
        for (s, e), c in zip(segs.tolist(), classes.tolist()):
            if not 0 <= c < len(ds.classes):
                raise EvaluationError(f"segment class {c} out of range" + where(source, v.name, "segment_classes"))
            records.append((v.name, ds.classes[c], s, e))
    gt = gt_from_records(subset, [v.name for v in videos], records, source)
    return _check_nonempty(gt, {v.subset for v in ds.videos})


def load_ground_truth(path: str | os.PathLike, subset: str | None = None, *,
                      snippet_seconds: float = 16 / 25) -> GroundTruth:
    """Ground truth from an ActivityNet JSON file or a dataset root directory (bundle / per-video)."""
    path = Path(path)
    if path.is_dir():
        from himnet_lib.datasets import load_dataset
        return gt_from_dataset(load_dataset(path, snippet_seconds=snippet_seconds), subset)
    if not path.exists():
        raise EvaluationError(f"ground truth not found: {path}")
    return gt_from_anet_json(path, subset)


# --- predictions ------------------------------------------------------------------------------













