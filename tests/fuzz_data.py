"""Hypothesis strategies for the dataset readers (the fuzz tests' half of tests/fuzz_inputs.py that
writes files): a W-TALC bundle and a per-video root made valid, and the breaks that spoil one of
their files or fields. :data:`READERS` is what the fuzzing covers (docs/bad_inputs.md lists it)."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from fuzz_inputs import (
    BAD_SEGMENTS,
    GT_BREAKS,
    NAME,
    NON_FINITE,
    PRED_BREAKS,
    Break,
    damaged_bytes,
    dump_json,
    junk_except,
    pick,
    registry,
)
from hypothesis import strategies as st

from himnet_lib.datasets.bundle import ANNOTATIONS_SUFFIX, FEATURES_SUFFIX, write_bundle
from himnet_lib.datasets.safe_npy import save_object_array

# --- W-TALC bundle ------------------------------------------------------------------------------

BUNDLE = "Fz"  # the bundle's <Name>
THUMOS_SUBSETS = ("validation", "test")


@st.composite
def bundle_spec(draw) -> dict:
    """``write_bundle`` arguments: 1-4 classes, 2-6 videos (the first in ``validation``, the second
    in ``test`` with at least one segment), 1-8 snippets of 2-6 features each, 0-3 segments inside
    the video, video labels the segment labels plus maybe others, ambiguous regions maybe, names
    as bytes or str."""
    classes = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    n = draw(st.integers(2, 6))
    names = draw(st.lists(NAME, min_size=n, max_size=n, unique=True))
    D = draw(st.sampled_from([2, 4, 6]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    spec: dict[str, Any] = {k: [] for k in ("subsets", "segments", "labels", "labels_all", "durations",
                                            "features", "ambiguous")}
    for i in range(n):
        duration = draw(st.floats(0.5, 100, width=32))
        segs = []
        for _ in range(draw(st.integers(1 if i == 1 else 0, 3))):
            a, b = sorted(draw(st.tuples(st.floats(0, duration, width=32), st.floats(0, duration, width=32))))
            segs.append((a, b))
        seg_labels = [draw(st.sampled_from(classes)) for _ in segs]
        spec["subsets"].append(THUMOS_SUBSETS[i] if i < 2 else draw(st.sampled_from(THUMOS_SUBSETS)))
        spec["segments"].append(np.asarray(segs, dtype=np.float64).reshape(-1, 2))
        spec["labels"].append(seg_labels)
        spec["labels_all"].append(sorted(set(seg_labels) | set(draw(st.lists(st.sampled_from(classes), max_size=2)))))
        spec["durations"].append(duration)
        spec["features"].append(rng.standard_normal((draw(st.integers(1, 8)), D)).astype(np.float32))
        if spec["subsets"][-1] == "test" and draw(st.booleans()):
            spec["ambiguous"].append((names[i], 0.0, round(duration, 1)))
    return {"classes": classes, "videonames": names, "as_bytes": draw(st.booleans()), **spec}


def write_spec(root: Path, spec: dict) -> Path:
    return write_bundle(root, BUNDLE, **spec)


def annotations_dir(root: Path) -> Path:
    return root / (BUNDLE + ANNOTATIONS_SUFFIX)


def features_file(root: Path) -> Path:
    return root / (BUNDLE + FEATURES_SUFFIX)


def object_array(items: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        out[i] = x
    return out


def save_npy(path: Path, arr: np.ndarray) -> None:
    """Object arrays as the bundle writer pickles them; plain ones by np.save (which keeps a 0-d array 0-d)."""
    with open(path, "wb") as f:
        if arr.dtype.hasobject:
            save_object_array(f, arr)
        else:
            np.save(f, arr)


def _video(spec: dict, draw) -> tuple[int, str]:
    i = draw(st.integers(0, len(spec["videonames"]) - 1))
    return i, spec["videonames"][i]


BUNDLE_BREAKS, _bundle = registry()
FEATURES = BUNDLE + FEATURES_SUFFIX


@_bundle
def _nonfinite_feature(root, spec, draw):
    """NaN or Inf in one snippet's features"""
    i, v = _video(spec, draw)
    x = spec["features"][i]
    t, d = draw(st.integers(0, x.shape[0] - 1)), draw(st.integers(0, x.shape[1] - 1))
    x[t, d] = draw(NON_FINITE)
    write_spec(root, spec)
    return (FEATURES, f"video {v}", f"snippet {t}")


@_bundle
def _feature_dim(root, spec, draw):
    """one video's features wider than the others'"""
    i, v = _video(spec, draw)
    x = spec["features"][i]
    spec["features"][i] = np.concatenate([x, x[:, :2]], axis=1)
    write_spec(root, spec)
    return (FEATURES, f"video {v}", "dimension")


@_bundle
def _features_not_2d(root, spec, draw):
    """one video's features not a (T, D) array, or empty"""
    i, v = _video(spec, draw)
    x = spec["features"][i]
    feats = list(spec["features"])
    feats[i] = draw(st.sampled_from([x.reshape(-1), x[None], np.zeros((0, x.shape[1]), np.float32),
                                     np.array(["a", "b"]), "text", None, [[1.0, 2.0]]]))
    save_npy(features_file(root), object_array(feats))
    return (FEATURES, f"video {v}", "features")


@_bundle
def _feature_entries(root, spec, draw):
    """fewer or more feature entries than videos"""
    feats = list(spec["features"])
    feats = feats[:-1] if draw(st.booleans()) else feats + feats[:1]
    save_npy(features_file(root), object_array(feats))
    return (FEATURES, "features")


@_bundle
def _nonfinite_segment(root, spec, draw):
    """a non-finite segment bound"""
    i, v = _video(spec, draw)
    spec["segments"][i] = np.array([[draw(NON_FINITE), 1.0]] if draw(st.booleans()) else [[0.0, draw(NON_FINITE)]])
    spec["labels"][i] = spec["classes"][:1]
    write_spec(root, spec)
    return ("segments.npy", f"video {v}", "segments")


@_bundle
def _segment_order(root, spec, draw):
    """a segment ending before it starts"""
    i, v = _video(spec, draw)
    spec["segments"][i] = np.array([[2.0, 1.0]])
    spec["labels"][i] = spec["classes"][:1]
    write_spec(root, spec)
    return ("segments.npy", f"video {v}", "segments")


@_bundle
def _segments_entry_junk(root, spec, draw):
    """a video's segments not (N, 2) numbers"""
    i, v = _video(spec, draw)
    segs = [[[float(s), float(e)] for s, e in sg] for sg in spec["segments"]]
    segs[i] = draw(st.sampled_from(["abc", 5.0, [[1.0, 2.0, 3.0]], [["a", "b"]], [[1.0, 2.0], [3.0]]]))
    save_npy(annotations_dir(root) / "segments.npy", object_array(segs))
    return ("segments.npy", f"video {v}", "segments")


@_bundle
def _annotation_file_shape(root, spec, draw):
    """an annotation file that is a scalar, or has the wrong number of entries"""
    key = draw(st.sampled_from(["classlist", "videoname", "subset", "segments", "labels", "labels_all",
                                "duration"]))
    arr = draw(st.sampled_from([np.array(3.5), np.array("x"), np.arange(len(spec["videonames"]) + 1.0)]))
    save_npy(annotations_dir(root) / f"{key}.npy", arr)
    return (f"{key}.npy",)


@_bundle
def _bundle_unknown_label(root, spec, draw):
    """a segment label or video label that is not in classlist.npy"""
    i, v = _video(spec, draw)
    key = draw(st.sampled_from(["labels", "labels_all"]))
    spec["segments"][i] = np.array([[0.0, 0.1]])
    spec["labels"][i] = spec["classes"][:1]
    spec["labels_all"][i] = spec["classes"][:1]
    spec[key][i] = ["no-such-class"]
    write_spec(root, spec)
    return (f"{key}.npy", f"video {v}", key)


@_bundle
def _label_count(root, spec, draw):
    """more or fewer segment labels than segments"""
    i, v = _video(spec, draw)
    spec["labels"][i] = spec["labels"][i] + spec["classes"][:1] if draw(st.booleans()) or not spec["labels"][i] \
        else spec["labels"][i][:-1]
    write_spec(root, spec)
    return ("labels.npy", f"video {v}", "labels")


@_bundle
def _labels_entry_junk(root, spec, draw):
    """a video's labels not a list of names"""
    i, v = _video(spec, draw)
    key = draw(st.sampled_from(["labels", "labels_all"]))
    entries = [[x.encode() for x in ls] for ls in spec[key]]
    entries[i] = draw(st.sampled_from([5.0, [1, 2], None, [None]]))
    save_npy(annotations_dir(root) / f"{key}.npy", object_array(entries))
    return (f"{key}.npy", f"video {v}", key)


@_bundle
def _bad_duration(root, spec, draw):
    """a duration that is not a positive finite number"""
    i, v = _video(spec, draw)
    d = np.asarray(spec["durations"], dtype=object).reshape(-1, 1)
    d[i, 0] = draw(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, "abc", None]))
    arr = d if any(isinstance(x, (str, type(None))) for x in d.ravel()) else d.astype(np.float64)
    save_npy(annotations_dir(root) / "duration.npy", arr)
    return ("duration.npy", f"video {v}", "duration")


@_bundle
def _duplicate_video(root, spec, draw):
    """two videos of one name"""
    spec["videonames"][1] = spec["videonames"][0]
    write_spec(root, spec)
    return ("videoname.npy", f"video {spec['videonames'][0]}", "videoname")


@_bundle
def _duplicate_class(root, spec, draw):
    """two classes of one name"""
    spec["classes"] = spec["classes"] + spec["classes"][:1]
    write_spec(root, spec)
    return ("classlist.npy", "classlist")


@_bundle
def _names_not_text(root, spec, draw):
    """class, video or subset names that are not text"""
    key = draw(st.sampled_from(["classlist", "videoname", "subset"]))
    n = len(spec["classes"]) if key == "classlist" else len(spec["videonames"])
    save_npy(annotations_dir(root) / f"{key}.npy", object_array([float(k) for k in range(n)]))
    return (f"{key}.npy", key)


@_bundle
def _missing_file(root, spec, draw):
    """a required file missing"""
    key = draw(st.sampled_from(["classlist", "videoname", "subset", "segments", "labels", "duration"]))
    (annotations_dir(root) / f"{key}.npy").unlink()
    return (f"{key}.npy", "missing")


@_bundle(may_pass=True)
def _damaged_file(root, spec, draw):
    """an .npy file cut short or with bytes spliced in"""
    files = sorted(annotations_dir(root).glob("*.npy")) + [features_file(root)]
    f = pick(draw, files)
    f.write_bytes(draw(damaged_bytes(f.read_bytes())))
    return (f.name,)


@_bundle
def _planted_pickle(root, spec, draw):
    """a pickle that names a code-running global"""
    key = draw(st.sampled_from(["segments", "labels"]))
    import os
    p = annotations_dir(root) / f"{key}.npy"
    arr = object_array([os.getcwd] * len(spec["videonames"]))
    with open(p, "wb") as f:
        np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(arr))
        pickle.dump(arr, f, protocol=4)
    return (f"{key}.npy", "refused")


@_bundle
def _bad_ambiguous(root, spec, draw):
    """a bad line in Ambiguous_test.txt (fields, non-finite or reversed bounds, not UTF-8)"""
    p = annotations_dir(root) / "Ambiguous_test.txt"
    line = draw(st.sampled_from([b"v 1.0\n", b"v nan 2.0\n", b"v 0.0 inf\n", b"v 3.0 1.0\n", b"v a b\n",
                                 b"v \xff 1.0\n"]))
    p.write_bytes(p.read_bytes() + line)
    return ("Ambiguous_test.txt", "ambiguous")


# --- per-video (BaS-Net) layout -----------------------------------------------------------------

@st.composite
def pervideo_spec(draw) -> dict:
    """A per-video root: gt.json (segments as numbers or strings, maybe durations), maybe split
    files, maybe classlist.txt, features/<subset>/{rgb,flow}/<video>.npy of 1-6 snippets."""
    classes = draw(st.lists(NAME, min_size=1, max_size=3, unique=True))
    n = draw(st.integers(2, 5))
    names = draw(st.lists(NAME, min_size=n, max_size=n, unique=True))
    dims = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    videos = {}
    for i, v in enumerate(names):
        T = draw(st.integers(1, 6))
        anns = []
        for _ in range(draw(st.integers(1 if i == 1 else 0, 3))):
            a, b = sorted(draw(st.tuples(st.floats(0, 50, width=32), st.floats(0, 50, width=32))))
            anns.append({"segment": [repr(a), repr(b)] if draw(st.booleans()) else [a, b],
                         "label": draw(st.sampled_from(classes))})
        videos[v] = {"subset": ("train", "test")[i] if i < 2 else draw(st.sampled_from(["train", "test"])),
                     "annotations": anns, "rgb": rng.standard_normal((T, dims[0])).astype(np.float32),
                     "flow": rng.standard_normal((T, dims[1])).astype(np.float32)}
        if draw(st.booleans()):
            videos[v]["duration"] = draw(st.floats(0.5, 100))
    return {"videos": videos, "splits": draw(st.booleans()),
            "classlist": draw(st.none() | st.permutations(classes))}


def write_pervideo(root: Path, spec: dict) -> Path:
    db = {}
    for v, e in spec["videos"].items():
        db[v] = {k: e[k] for k in ("subset", "annotations", "duration") if k in e}
        for stream in ("rgb", "flow"):
            d = root / "features" / e["subset"] / stream
            d.mkdir(parents=True, exist_ok=True)
            np.save(d / f"{v}.npy", e[stream])
    (root / "gt.json").write_bytes(dump_json({"database": db}))
    if spec["splits"]:
        for s in ("train", "test"):
            (root / f"split_{s}.txt").write_text("".join(f"{v}\n" for v, e in spec["videos"].items()
                                                         if e["subset"] == s))
    if spec["classlist"] is not None:
        (root / "classlist.txt").write_text("".join(f"{c}\n" for c in spec["classlist"]))
    return root


def _pv_video(spec: dict, draw, annotated: bool = False) -> tuple[str, dict]:
    vids = [(v, e) for v, e in spec["videos"].items() if e["annotations"] or not annotated]
    return pick(draw, vids)


PERVIDEO_BREAKS, _pv = registry()


@_pv(may_pass=True)
def _pv_gt_damaged(root, spec, draw):
    """gt.json cut short or with bytes spliced in"""
    p = root / "gt.json"
    p.write_bytes(draw(damaged_bytes(p.read_bytes())))
    return ("gt.json",)


@_pv
def _pv_database(root, spec, draw):
    """'database' missing or not an object"""
    obj = json.loads((root / "gt.json").read_text())
    if draw(st.booleans()):
        obj = {"videos": obj["database"]}
    else:
        obj["database"] = draw(junk_except(dict))
    (root / "gt.json").write_bytes(dump_json(obj))
    return ("gt.json", "database")


def _edit_gt(root: Path, edit: Callable[[dict], None]) -> None:
    obj = json.loads((root / "gt.json").read_text())
    edit(obj["database"])
    (root / "gt.json").write_bytes(dump_json(obj))


@_pv
def _pv_segment(root, spec, draw):
    """a segment not two finite numbers in order"""
    v, e = _pv_video(spec, draw, annotated=True)
    k = draw(st.integers(0, len(e["annotations"]) - 1))
    bad = draw(BAD_SEGMENTS)
    _edit_gt(root, lambda db: db[v]["annotations"][k].__setitem__("segment", bad))
    return ("gt.json", f"video {v}", f"annotations[{k}]")


@_pv
def _pv_label(root, spec, draw):
    """a label not a string or not in classlist.txt"""
    v, e = _pv_video(spec, draw, annotated=True)
    k = draw(st.integers(0, len(e["annotations"]) - 1))
    bad = draw(st.one_of(junk_except(str), st.just("no-such-class") if spec["classlist"] else st.nothing()))
    _edit_gt(root, lambda db: db[v]["annotations"][k].__setitem__("label", bad))
    return ("gt.json", f"video {v}", f"annotations[{k}].label")


@_pv
def _pv_annotation(root, spec, draw):
    """an annotation not an object, or 'annotations' not a list"""
    v, e = _pv_video(spec, draw, annotated=True)
    if draw(st.booleans()):
        bad = draw(junk_except(list))
        _edit_gt(root, lambda db: db[v].__setitem__("annotations", bad))
        return ("gt.json", f"video {v}", "annotations")
    k = draw(st.integers(0, len(e["annotations"]) - 1))
    bad = draw(junk_except(dict))
    _edit_gt(root, lambda db: db[v]["annotations"].__setitem__(k, bad))
    return ("gt.json", f"video {v}", f"annotations[{k}]")


@_pv
def _pv_duration(root, spec, draw):
    """a duration that is not a positive finite number"""
    v, _ = _pv_video(spec, draw)
    bad = draw(st.one_of(NON_FINITE, st.sampled_from([0, -1.5, "abc", True, [1.0]])))
    _edit_gt(root, lambda db: db[v].__setitem__("duration", bad))
    return ("gt.json", f"video {v}", "duration")


@_pv
def _pv_entry(root, spec, draw):
    """a video entry not an object"""
    v, _ = _pv_video(spec, draw)
    bad = draw(junk_except(dict))
    _edit_gt(root, lambda db: db.__setitem__(v, bad))
    return ("gt.json", f"video {v}")


@_pv
def _pv_unsafe_name(root, spec, draw):
    """a video name that is a path ('..', a separator)"""
    name = draw(st.sampled_from(["../x", "..", "a/b", "/abs"]))
    spec["splits"] = False
    for s in ("train", "test"):
        (root / f"split_{s}.txt").unlink(missing_ok=True)
    _edit_gt(root, lambda db: db.__setitem__(name, {"subset": "test", "annotations": []}))
    return ("gt.json", f"video {name}", "name")


@_pv
def _pv_stream_missing(root, spec, draw):
    """a feature file missing"""
    v, e = _pv_video(spec, draw)
    stream = draw(st.sampled_from(["rgb", "flow"]))
    (root / "features" / e["subset"] / stream / f"{v}.npy").unlink()
    return (f"{v}.npy", f"video {v}", "features")


@_pv
def _pv_stream_shape(root, spec, draw):
    """a feature file of another length than its pair, not 2-D, or damaged"""
    v, e = _pv_video(spec, draw)
    stream = draw(st.sampled_from(["rgb", "flow"]))
    p = root / "features" / e["subset"] / stream / f"{v}.npy"
    x = e[stream]
    how = draw(st.sampled_from(["longer", "1-D", "cut short"]))
    if how == "cut short":
        data = p.read_bytes()
        p.write_bytes(data[:draw(st.integers(0, len(data) - 1))])
    else:
        np.save(p, np.concatenate([x, x]) if how == "longer" else x.reshape(-1))
    return (f"video {v}", "features")


@_pv(lazy=True)
def _pv_nonfinite(root, spec, draw):
    """NaN or Inf in one snippet of a feature file"""
    v, e = _pv_video(spec, draw)
    stream = draw(st.sampled_from(["rgb", "flow"]))
    x = e[stream].copy()
    t = draw(st.integers(0, x.shape[0] - 1))
    x[t, draw(st.integers(0, x.shape[1] - 1))] = draw(NON_FINITE)
    np.save(root / "features" / e["subset"] / stream / f"{v}.npy", x)
    return (f"video {v}", f"snippet {t}", "features")


@_pv
def _pv_split(root, spec, draw):
    """a split file naming a video twice or one gt.json lacks"""
    for s in ("train", "test"):
        (root / f"split_{s}.txt").write_text("".join(f"{v}\n" for v, e in spec["videos"].items()
                                                     if e["subset"] == s))
    name = draw(st.sampled_from(["not-in-gt", next(iter(spec["videos"]))]))
    p = root / "split_test.txt"
    p.write_text(p.read_text() + f"{name}\n")
    return ("gt.json", f"video {name}")


@_pv
def _pv_text_not_utf8(root, spec, draw):
    """a split file or classlist.txt that is not UTF-8"""
    name = draw(st.sampled_from(["split_test.txt", "classlist.txt"]))
    (root / name).write_bytes(b"\xff\xfe\n")
    return (name, "UTF-8")


# What the fuzzing covers (docs/bad_inputs.md's section is built from this): reader -> (the valid
# inputs generated, the breaks tried, the tests).
READERS: dict[str, tuple[str, Sequence[Break], str]] = {
    "ActivityNet ground truth (`evaluate --gt x.json`)":
        ("1-5 videos, 1-4 labels, 0-4 annotations each, boundaries as numbers or strings",
         GT_BREAKS, "test_fuzz_readers.py::test_anet_ground_truth*, test_fuzz_cli.py::test_evaluate_*"),
    "ActivityNet predictions (`evaluate --pred`)":
        ("one prediction per ground-truth annotation, any scores", PRED_BREAKS,
         "test_fuzz_readers.py::test_predictions*, test_fuzz_cli.py::test_evaluate_*"),
    "W-TALC bundle (`check-data`, `evaluate --gt ROOT`, every loader)":
        ("1-4 classes, 2-6 videos, 1-8 snippets of 2-6 features, 0-3 segments, ambiguous regions, bytes or "
         "str names", BUNDLE_BREAKS, "test_fuzz_readers.py::test_bundle*, test_fuzz_cli.py::test_bundle_*"),
    "per-video folders (`check-data`, every loader)":
        ("2-5 videos, gt.json with or without durations, split files and classlist.txt or not, "
         "two streams of 1-3 features", PERVIDEO_BREAKS,
         "test_fuzz_readers.py::test_pervideo*, test_fuzz_cli.py::test_pervideo_*"),
}
