"""Reader and writer of the W-TALC / HAM-Net / CO2-Net "npy bundle".

Layout (``<Name>`` is e.g. ``Thumos14reduced``)::

    ROOT/<Name>-I3D-JOINTFeatures.npy       pickled object array, entry i = (T_i, 2D) float array,
                                            columns [0, D) RGB (I3D appearance), [D, 2D) optical flow
    ROOT/<Name>-Annotations/classlist.npy   (C,) class names; index = class id
                            videoname.npy   (N,) video names, same order as the feature entries
                            subset.npy      (N,) "validation"/"test" (THUMOS) or "training"/"validation"
                            segments.npy    (N,) object: per video a list of [start, end] seconds
                            labels.npy      (N,) object: per video a list of class names, one per segment
                            labels_all.npy  (N,) object: per video the video-level labels (optional)
                            duration.npy    (N,) or (N, 1) seconds
                            Ambiguous_test.txt  optional, lines "vid  start end" (two spaces)

Names may be Python-2 ``bytes`` (THUMOS file) or ``str`` (ActivityNet file). Video-level labels come
from ``labels_all.npy`` when that file exists, exactly as CO2-Net trains (so THUMOS
``video_test_0000270`` has no video-level label); without it they are the set of segment labels.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from himnet_lib.datasets.dataset import Dataset, Video
from himnet_lib.datasets.safe_npy import load_npy, save_object_array
from himnet_lib.datasets.validate import Issues, check_features, most_common
from himnet_lib.utils.errors import DataError
from himnet_lib.utils.fileio import atomic_write, atomic_write_text, read_text_utf8

FEATURES_SUFFIX = "-I3D-JOINTFeatures.npy"
ANNOTATIONS_SUFFIX = "-Annotations"
AMBIGUOUS_FILE = "Ambiguous_test.txt"
REQUIRED_FILES = ("classlist", "videoname", "subset", "segments", "labels", "duration")


def annotation_dirs(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).glob("*" + ANNOTATIONS_SUFFIX) if p.is_dir())


def is_bundle(root: str | Path) -> bool:
    return bool(annotation_dirs(Path(root)))


def bundle_name(root: Path) -> str:
    """``<Name>`` from the single ``<Name>-Annotations`` directory of ``root``."""
    dirs = annotation_dirs(root)
    if len(dirs) != 1:
        found = ", ".join(d.name for d in dirs) or "none"
        raise Issues.fail(f"expected exactly one '<Name>{ANNOTATIONS_SUFFIX}' directory, found {found}",
                          file=str(root))
    return dirs[0].name[: -len(ANNOTATIONS_SUFFIX)]


def _text(x: Any) -> str:
    if isinstance(x, (bytes, np.bytes_)):
        try:
            return bytes(x).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(x).decode("latin-1")
    if isinstance(x, (str, np.str_)):
        return str(x)
    raise TypeError(f"expected a string, got {type(x).__name__}")


def _names(seq: Any, *, issues: Issues, file: str, video: str | None, field: str) -> list[str] | None:
    try:
        return [_text(x) for x in seq]
    except TypeError as e:
        issues.report(str(e), file=file, video=video, field=field)
        return None


def read_ambiguous(path: Path, *, issues: Issues) -> dict[str, np.ndarray]:
    """``Ambiguous_test.txt``: ``vid  start end`` per line (fields split on any whitespace)."""
    rows: dict[str, list[tuple[float, float]]] = {}
    try:
        text = read_text_utf8(path)
    except (OSError, ValueError) as exc:
        raise Issues.fail(f"cannot read text file: {exc}", file=str(path), field="ambiguous") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) != 3:
                raise ValueError(f"expected 'video start end', got {len(parts)} fields")
            s, e = float(parts[1]), float(parts[2])
            if not (math.isfinite(s) and math.isfinite(e)) or e < s:
                raise ValueError(f"bad interval [{parts[1]}, {parts[2]}]")
        except ValueError as err:
            issues.report(f"line {lineno}: {err}", file=str(path), video=parts[0], field="ambiguous")
            continue
        rows.setdefault(parts[0], []).append((s, e))
    return {k: np.asarray(v, dtype=np.float64).reshape(-1, 2) for k, v in rows.items()}


def split_subsets(subsets: set[str]) -> tuple[str, str]:
    """(train, test) subset names: ActivityNet bundles use training/validation, THUMOS validation/test."""
    if "training" in subsets:
        return "training", "validation"
    return "validation", "test"


def parse_segments(raw: Any, *, issues: Issues, file: str, video: str) -> np.ndarray | None:
    """(N, 2) float64 from a list of [start, end]; reports shape, NaN and end < start problems."""
    try:
        segs = np.asarray(raw if raw is not None else [], dtype=np.float64)
    except (TypeError, ValueError) as e:
        issues.report(f"segments are not numeric pairs ({e})", file=file, video=video, field="segments")
        return None
    if segs.size == 0:
        return np.zeros((0, 2), np.float64)
    if segs.ndim != 2 or segs.shape[1] != 2:
        issues.report(f"segments must be (N, 2) [start, end] pairs, got shape {segs.shape}",
                      file=file, video=video, field="segments")
        return None
    ok = True
    if not np.isfinite(segs).all():
        k = int(np.flatnonzero(~np.isfinite(segs).all(1))[0])
        issues.report(f"segment {k} is not finite: {segs[k].tolist()}", file=file, video=video, field="segments")
        ok = False
    neg = np.flatnonzero(segs[:, 1] < segs[:, 0])
    if neg.size:
        k = int(neg[0])
        issues.report(f"{neg.size} segment(s) end before they start, first: segment {k} = {segs[k].tolist()}",
                      file=file, video=video, field="segments")
        ok = False
    return segs if ok else None


def read_bundle(root: str | Path, *, snippet_seconds: float, feature_dim: int | None,
                issues: Issues) -> Dataset | None:
    """Read a W-TALC bundle. Returns None only in collecting mode when problems prevent reading."""
    root = Path(root)
    name = bundle_name(root)
    ann = root / (name + ANNOTATIONS_SUFFIX)
    feat_path = root / (name + FEATURES_SUFFIX)

    arrays: dict[str, np.ndarray] = {}
    wanted = list(REQUIRED_FILES) + (["labels_all"] if (ann / "labels_all.npy").exists() else [])
    for key in wanted:
        try:
            arrays[key] = load_npy(ann / f"{key}.npy")
        except DataError as e:
            issues.add(e)
    feats: Any = None
    try:
        feats = load_npy(feat_path)
    except DataError as e:
        issues.add(e)
    if len(arrays) < len(wanted) or feats is None:
        return None

    videonames = _names(arrays["videoname"].reshape(-1), issues=issues, file=str(ann / "videoname.npy"),
                        video=None, field="videoname")
    classes = _names(arrays["classlist"].reshape(-1), issues=issues, file=str(ann / "classlist.npy"),
                     video=None, field="classlist")
    subsets = _names(arrays["subset"].reshape(-1), issues=issues, file=str(ann / "subset.npy"),
                     video=None, field="subset")
    if videonames is None or classes is None or subsets is None:
        return None
    n = len(videonames)
    dur = arrays["duration"]
    durations = dur.reshape(-1) if dur.size == n else dur
    if feats.dtype != object and feats.ndim == 3:  # equal-length videos saved as one 3-D array
        feats = list(feats)
    per_file: dict[str, Any] = {"subset": subsets, "segments": arrays["segments"], "labels": arrays["labels"],
                "duration": durations, "features": feats}
    if "labels_all" in arrays:
        per_file["labels_all"] = arrays["labels_all"]
    lengths_ok = True
    for key, arr in per_file.items():
        size = None if isinstance(arr, np.ndarray) and arr.ndim == 0 else len(arr)
        if size != n:
            f = feat_path if key == "features" else ann / f"{key}.npy"
            issues.report(f"has {'a single value (a 0-d array)' if size is None else f'{size} entries'} but "
                          f"videoname.npy has {n}: arrays must align", file=str(f), field=key)
            lengths_ok = False
    if len(set(classes)) != len(classes):
        issues.report("duplicate class names", file=str(ann / "classlist.npy"), field="classlist")
    if not lengths_ok:
        return None

    class_id = {c: i for i, c in enumerate(classes)}
    C = len(classes)
    dims = [f.shape[1] for f in feats if isinstance(f, np.ndarray) and f.ndim == 2]
    ref_dim = feature_dim if feature_dim is not None else most_common(dims)
    videos: list[Video] = []
    seen: set[str] = set()
    for i, vid in enumerate(videonames):
        ok = True
        if vid in seen:
            issues.report("duplicate video name (its ground truth would be merged with the other's)",
                          file=str(ann / "videoname.npy"), video=vid, field="videoname")
            continue
        seen.add(vid)
        segs = parse_segments(arrays["segments"][i], issues=issues, file=str(ann / "segments.npy"), video=vid)
        ok &= segs is not None
        seg_names = _names(arrays["labels"][i], issues=issues, file=str(ann / "labels.npy"), video=vid,
                           field="labels")
        seg_cls = np.zeros(0, np.int64)
        if seg_names is not None:
            unknown = sorted({s for s in seg_names if s not in class_id})
            if unknown:
                issues.report(f"unknown class name(s) {unknown} not in classlist.npy",
                              file=str(ann / "labels.npy"), video=vid, field="labels")
                ok = False
            else:
                seg_cls = np.asarray([class_id[s] for s in seg_names], dtype=np.int64)
            if segs is not None and len(seg_names) != len(segs):
                issues.report(f"{len(seg_names)} segment labels for {len(segs)} segments",
                              file=str(ann / "labels.npy"), video=vid, field="labels")
                ok = False
        else:
            ok = False
        if "labels_all" in arrays:
            vnames = _names(arrays["labels_all"][i], issues=issues, file=str(ann / "labels_all.npy"),
                            video=vid, field="labels_all")
            if vnames is None:
                ok = False
                vnames = []
            unknown = sorted({s for s in vnames if s not in class_id})
            if unknown:
                issues.report(f"unknown class name(s) {unknown} not in classlist.npy",
                              file=str(ann / "labels_all.npy"), video=vid, field="labels_all")
                ok = False
            vids = [class_id[s] for s in vnames if s in class_id]
        else:
            vids = seg_cls.tolist()
        labels = np.zeros(C, np.float32)
        labels[vids] = 1.0
        try:
            duration = float(np.asarray(durations[i]).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            duration = float("nan")
        if not (math.isfinite(duration) and duration > 0):
            issues.report(f"duration must be a positive number, got {durations[i]!r}",
                          file=str(ann / "duration.npy"), video=vid, field="duration")
            ok = False
        x = feats[i]
        ok &= check_features(x, issues=issues, file=str(feat_path), video=vid, expected_dim=ref_dim)
        if not ok:
            continue
        assert segs is not None  # ok implies it
        if x.dtype != np.float32:  # convert once here, not on every access
            x = x.astype(np.float32)
        videos.append(Video(name=vid, subset=subsets[i], labels=labels, segments=segs, segment_classes=seg_cls,
                            duration=duration, _num_snippets=int(x.shape[0]), _source=x))
    ambiguous = {}
    if (ann / AMBIGUOUS_FILE).exists():
        ambiguous = read_ambiguous(ann / AMBIGUOUS_FILE, issues=issues)
    train, test = split_subsets(set(subsets))
    return Dataset(name=name, root=root, classes=classes, videos=videos, snippet_seconds=snippet_seconds,
                   ambiguous=ambiguous, train_subset=train, test_subset=test,
                   _feature_dim=int(ref_dim or 0), layout="wtalc",
                   label_source="labels_all.npy" if "labels_all" in arrays else "segments")


def _object_array(items: Sequence[Any]) -> np.ndarray:
    # np.array(list_of_equal_length_lists, dtype=object) would build a 2-D array; the format wants 1-D.
    out = np.empty(len(items), dtype=object)
    for i, it in enumerate(items):
        out[i] = it
    return out


def write_bundle(root: str | Path, name: str, *, classes: Sequence[str], videonames: Sequence[str],
                 subsets: Sequence[str], segments: Sequence[np.ndarray], labels: Sequence[Sequence[str]],
                 labels_all: Sequence[Sequence[str]], durations: Sequence[float] | np.ndarray,
                 features: Sequence[np.ndarray], ambiguous: Sequence[tuple[str, float, float]] = (),
                 as_bytes: bool = True) -> Path:
    """Write a W-TALC bundle under ``root`` (created); strings as bytes like the THUMOS files.

    ``segments[i]`` (N_i, 2) seconds with ``labels[i]`` N_i names; ``features[i]`` (T_i, 2D). Every file
    is written atomically, with a fixed header version and pickle protocol, so equal inputs give
    byte-identical files.
    """
    root = Path(root)
    ann = root / (name + ANNOTATIONS_SUFFIX)
    ann.mkdir(parents=True, exist_ok=True)
    enc = (lambda s: s.encode("utf-8")) if as_bytes else (lambda s: s)
    sdt = "S" if as_bytes else "U"

    def strings(xs: Sequence[str]) -> np.ndarray:
        width = max([len(enc(x)) for x in xs] + [1])
        return np.asarray([enc(x) for x in xs], dtype=f"{sdt}{width}")

    files = {
        "classlist": strings(classes),
        "videoname": strings(videonames),
        "subset": strings(subsets),
        "segments": _object_array([[[float(s), float(e)] for s, e in np.asarray(sg).reshape(-1, 2)]
                                   for sg in segments]),
        "labels": _object_array([[enc(x) for x in ls] for ls in labels]),
        "labels_all": _object_array([[enc(x) for x in ls] for ls in labels_all]),
        "duration": np.asarray(durations, dtype=np.float64).reshape(-1, 1),
    }
    for key, arr in files.items():
        atomic_write(ann / f"{key}.npy", lambda f, a=arr: save_object_array(f, a))  # type: ignore[misc]  # default-bound lambda
    atomic_write_text(ann / AMBIGUOUS_FILE, "".join(f"{v}  {s:.1f} {e:.1f}\n" for v, s, e in ambiguous))
    feats = _object_array([np.ascontiguousarray(x, dtype=np.float32) for x in features])
    atomic_write(root / (name + FEATURES_SUFFIX), lambda f: save_object_array(f, feats))
    return root
