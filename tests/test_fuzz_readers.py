"""Property tests of every reader, called as the library calls it (tests/fuzz_inputs.py and
tests/fuzz_data.py make the inputs): a valid input reads back as it was made (a ground truth scored
against itself has mAP 1, a bundle loads with the shapes it was made with), and an input broken in
one field is refused with the reader's own error type, naming the file and the field (or the video
and the snippet); nothing else is ever raised. The same inputs through the command line:
tests/test_fuzz_cli.py."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_data import (
    BUNDLE_BREAKS,
    PERVIDEO_BREAKS,
    bundle_spec,
    pervideo_spec,
    write_pervideo,
    write_spec,
)
from fuzz_inputs import (
    GT_BREAKS,
    HISTORY_CELLS,
    PRED_BREAKS,
    anet_ground_truth,
    damaged_bytes,
    dump_json,
    examples,
    predictions_of,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.summary import check_data
from himnet_lib.evaluation.detection import evaluate_files, evaluate_results
from himnet_lib.evaluation.groundtruth import gt_from_anet_json
from himnet_lib.utils.errors import DataError, EvaluationError, RunError
from himnet_lib.utils.run_folder import RunDir

pytestmark = pytest.mark.fuzz
SCORES = st.lists(st.floats(0, 1), min_size=1, max_size=5)


def _contains_all(text: str, needles) -> None:
    for n in needles:
        assert n in text, (n, text)


def _apply(brk, root: Path, spec: dict, draw) -> tuple[str, ...]:
    """Apply a break; its texts, or for bytes that may still read, only that some file is named
    (what the damage becomes is not known: a changed subset, a missing video, ...)."""
    needles = brk.apply(root, spec, draw)
    return ("file ",) if brk.may_pass else needles


# --- ActivityNet JSON -----------------------------------------------------------------------------

@settings(max_examples=examples(2))
@given(gt=anet_ground_truth(), scores=SCORES)
def test_anet_ground_truth_scored_against_itself_has_map_one(gt, scores):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gt.json"
        path.write_bytes(dump_json(gt))
        g = gt_from_anet_json(path)
    result = evaluate_results(g, predictions_of(gt, scores))
    assert result.mAP.tolist() == [1.0] * len(result.tiou) and result.average_mAP == 1.0
    assert g.num_instances == sum(len(e["annotations"]) for e in gt["database"].values() if e["subset"] == "test")


@given(gt=anet_ground_truth(), data=st.data())
def test_anet_ground_truth_broken_in_one_field_is_refused_naming_it(gt, data):
    brk = data.draw(st.sampled_from(GT_BREAKS))
    needles = brk.apply(gt, data.draw)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gt.json"
        path.write_bytes(dump_json(gt))
        with pytest.raises(EvaluationError) as e:
            gt_from_anet_json(path)
    _contains_all(str(e.value), (f"file {path}", *needles))


@given(gt=anet_ground_truth(), data=st.data())
def test_anet_ground_truth_with_damaged_bytes_reads_or_names_the_file(gt, data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gt.json"
        path.write_bytes(data.draw(damaged_bytes(dump_json(gt))))
        try:
            gt_from_anet_json(path)
        except EvaluationError as e:
            assert str(path) in str(e)


@given(gt=anet_ground_truth(), scores=SCORES, data=st.data())
def test_predictions_broken_in_one_field_are_refused_naming_it(gt, scores, data):
    preds = predictions_of(gt, scores)
    brk = data.draw(st.sampled_from(PRED_BREAKS))
    needles = brk.apply(preds, data.draw)
    with tempfile.TemporaryDirectory() as d:
        gt_path, pred_path = Path(d) / "gt.json", Path(d) / "pred.json"
        gt_path.write_bytes(dump_json(gt))
        pred_path.write_bytes(dump_json(preds))
        with pytest.raises(EvaluationError) as e:
            evaluate_files(gt_path, pred_path)
    _contains_all(str(e.value), (str(pred_path), *needles))


# --- W-TALC bundle --------------------------------------------------------------------------------

@settings(max_examples=examples(1))
@given(spec=bundle_spec())
def test_bundle_loads_with_the_shapes_it_was_made_with(spec):
    with tempfile.TemporaryDirectory() as d:
        ds = load_dataset(write_spec(Path(d), spec))
        ok, report = check_data(Path(d))
    assert ok, report
    assert ds.classes == spec["classes"] and [v.name for v in ds.videos] == spec["videonames"]
    assert ds.feature_dim == spec["features"][0].shape[1] and ds.test_subset == "test"
    for i, v in enumerate(ds.videos):
        assert v.subset == spec["subsets"][i] and v.duration == spec["durations"][i]
        np.testing.assert_array_equal(v.features, spec["features"][i])
        np.testing.assert_array_equal(v.segments, spec["segments"][i])
        assert [ds.classes[c] for c in v.segment_classes] == spec["labels"][i]
        assert [ds.classes[c] for c in np.flatnonzero(v.labels)] == [c for c in ds.classes
                                                                       if c in spec["labels_all"][i]]
    assert {k: a.tolist() for k, a in ds.ambiguous.items()} == {
        v: [[s, round(e, 1)]] for v, s, e in spec["ambiguous"]}


@settings(max_examples=examples(3))
@given(spec=bundle_spec(), data=st.data())
def test_bundle_broken_in_one_field_is_refused_naming_file_and_field(spec, data):
    brk = data.draw(st.sampled_from(BUNDLE_BREAKS))
    with tempfile.TemporaryDirectory() as d:
        root = write_spec(Path(d), spec)
        needles = _apply(brk, root, spec, data.draw)
        try:
            load_dataset(root)
            loaded = True
        except DataError as e:
            loaded = False
            _contains_all(str(e), needles)
        ok, report = check_data(root)
    assert loaded == ok, (loaded, report)   # the checker finds what the loader refuses, and only that
    if not ok:  # one problem line names all of it
        assert any(all(n in line for n in needles) for line in report.splitlines()), (needles, report)
    assert brk.may_pass or not ok, f"{brk} was accepted"


# --- per-video folders ----------------------------------------------------------------------------

def _pervideo_expectations(ds, spec) -> None:
    videos = spec["videos"]
    order = ([v for s in ("train", "test") for v, e in videos.items() if e["subset"] == s] if spec["splits"]
             else list(videos))
    assert [v.name for v in ds.videos] == order
    labels = {a["label"] for e in videos.values() for a in e["annotations"]}
    assert ds.classes == (list(spec["classlist"]) if spec["classlist"] is not None else sorted(labels))
    for v in ds.videos:
        e = videos[v.name]
        np.testing.assert_array_equal(v.features, np.concatenate([e["rgb"], e["flow"]], axis=1))
        np.testing.assert_array_equal(v.segments, np.asarray([[float(t) for t in a["segment"]]
                                                              for a in e["annotations"]]).reshape(-1, 2))
        assert v.duration == e.get("duration", len(e["rgb"]) * ds.snippet_seconds)


@settings(max_examples=examples(1))
@given(spec=pervideo_spec())
def test_pervideo_root_loads_as_it_was_made(spec):
    with tempfile.TemporaryDirectory() as d:
        root = write_pervideo(Path(d), spec)
        ds = load_dataset(root)
        _pervideo_expectations(ds, spec)
        ok, report = check_data(root)
    assert ok, report


@settings(max_examples=examples(3))
@given(spec=pervideo_spec(), data=st.data())
def test_pervideo_root_broken_in_one_field_is_refused_naming_file_and_field(spec, data):
    brk = data.draw(st.sampled_from(PERVIDEO_BREAKS))
    with tempfile.TemporaryDirectory() as d:
        root = write_pervideo(Path(d), spec)
        needles = _apply(brk, root, spec, data.draw)
        try:
            ds = load_dataset(root)
            for v in ds.videos:  # what training reads: every video's features
                v.features
            loaded = True
        except DataError as e:
            loaded = False
            _contains_all(str(e), needles)
        ok, report = check_data(root)
    assert loaded == ok, (loaded, report)
    if not ok:
        assert any(all(n in line for n in needles) for line in report.splitlines()), (needles, report)
    assert brk.may_pass or not ok, f"{brk} was accepted"


# --- run records ----------------------------------------------------------------------------------

HISTORY = "iteration,loss,mil,cll\n50,1.5,0.9,0.6\n100,1.25,0.8,0.45\n"


@given(rows=st.lists(st.lists(HISTORY_CELLS, min_size=0, max_size=5), max_size=4), data=st.data())
def test_history_reads_or_names_the_file(rows, data):
    text = HISTORY + "".join(",".join(r) + "\n" for r in rows)
    raw = data.draw(st.one_of(st.just(text.encode()), damaged_bytes(text.encode())))
    with tempfile.TemporaryDirectory() as d:
        run = RunDir(Path(d))
        run.history_path.write_bytes(raw)
        try:
            h = run.history()
        except RunError as e:
            assert str(run.history_path) in str(e)
            return
    assert list(h.columns)[0] == "iteration" and h["iteration"].is_monotonic_increasing
    assert all(np.isfinite(h[c].dropna()).all() for c in h.columns)


@given(obj=st.dictionaries(st.sampled_from(["results", "version", "x"]),
                           st.one_of(st.dictionaries(st.text(max_size=3), st.lists(st.integers(), max_size=2),
                                                     max_size=2), st.integers(), st.text(max_size=3)), max_size=3),
       data=st.data())
def test_saved_predictions_read_or_name_the_file(obj, data):
    raw = data.draw(st.one_of(st.just(json.dumps(obj).encode()), damaged_bytes(json.dumps(obj).encode())))
    with tempfile.TemporaryDirectory() as d:
        run = RunDir(Path(d))
        run.predictions_path.write_bytes(raw)
        try:
            preds = run.predictions()
        except RunError as e:
            assert str(run.predictions_path) in str(e)
            return
    assert isinstance(preds, dict) and all(isinstance(v, list) for v in preds.values())
