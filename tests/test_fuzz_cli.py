"""The fuzzed inputs through the command line (``himnet_lib.cli.main`` in this process): every call
either succeeds, or exits with status 2 and exactly one line on stderr that names the file and the
field (or the setting); never a traceback, never a warning (each would be printed on stderr); and
nothing is left behind or changed: the folder of the inputs holds exactly the same bytes after the
call (no temporary file, no partial output, no run folder begun). Valid inputs round-trip through
``himnet evaluate``: mAP 1 against themselves. The commands that would then work (train, reproduce)
are stopped at the library's door by a stand-in that records what they were given."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import fake_slurm
import pytest
from fuzz_data import BUNDLE_BREAKS, PERVIDEO_BREAKS, bundle_spec, pervideo_spec, write_pervideo, write_spec
from fuzz_inputs import (
    CLUSTER_JUNK,
    GT_BREAKS,
    PRED_BREAKS,
    anet_ground_truth,
    call_cli,
    cluster_settings,
    cluster_text,
    damaged_bytes,
    dump_json,
    examples,
    mutated_record,
    no_leftovers,
    predictions_of,
    snapshot,
    value_text,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from himnet_lib.config.run import RunConfig, check_config, flatten, resolve_config
from himnet_lib.utils.run_folder import RunDir

pytestmark = pytest.mark.fuzz
TRAIN = ["train", "--profile", "smoke", "--threads", "1"]


def _evaluate(gt: Path, pred: Path):
    return call_cli(["evaluate", "--gt", gt, "--pred", pred, "--json"])


def _map_one(outcome) -> None:
    outcome.ok()
    assert json.loads(outcome.out)["average_mAP"] == 1.0, outcome.out


# --- ActivityNet JSON -----------------------------------------------------------------------------

@given(gt=anet_ground_truth(), data=st.data())
def test_evaluate_of_fuzzed_json(gt, data):
    """A valid pair scores 1; a pair with one field broken is one line naming the file and field."""
    preds = predictions_of(gt, data.draw(st.lists(st.floats(0, 1), min_size=1, max_size=4)))
    which = data.draw(st.sampled_from(["valid", "gt", "pred", "gt bytes", "pred bytes"]))
    needles: tuple[str, ...] = ()
    if which in ("gt", "pred"):
        brk = data.draw(st.sampled_from(GT_BREAKS if which == "gt" else PRED_BREAKS))
        needles = brk.apply(gt if which == "gt" else preds, data.draw)
    with tempfile.TemporaryDirectory() as d:
        g, p = Path(d) / "gt.json", Path(d) / "pred.json"
        g.write_bytes(dump_json(gt))
        p.write_bytes(dump_json(preds))
        if which.endswith("bytes"):
            f = g if which == "gt bytes" else p
            f.write_bytes(data.draw(damaged_bytes(f.read_bytes())))
        before = snapshot(Path(d))
        out = _evaluate(g, p)
        no_leftovers(before, snapshot(Path(d)))
    if which == "valid":
        _map_one(out)
    elif which.endswith("bytes"):
        if out.code != 0:
            out.one_line_error(str(g if which == "gt bytes" else p))
    else:
        out.one_line_error(str(g if which == "gt" else p), *needles)


# --- dataset roots --------------------------------------------------------------------------------

def _dataset_predictions(root: Path) -> dict:
    from himnet_lib.datasets import load_dataset
    ds = load_dataset(root)
    return {"version": "x", "external_data": {}, "results": {
        v.name: [{"label": ds.classes[c], "segment": [float(s), float(e)], "score": 1.0}
                 for (s, e), c in zip(v.segments, v.segment_classes)] for v in ds.test_videos()}}


def _dataset_property(root: Path, brk, needles, pred: Path) -> None:
    """check-data and evaluate of ``root`` (broken by ``brk``, None: valid); ``needles`` the texts of the
    error (for damaged bytes that may still read: only the root, as what the damage became is unknown,
    e.g. a key cut so that the test video has no annotations, which evaluate names by the root)."""
    before = snapshot(root)
    checked = call_cli(["check-data", root])
    evaluated = _evaluate(root, pred)
    no_leftovers(before, snapshot(root))
    assert checked.err == "" and "Traceback" not in checked.out and not checked.warned, checked
    if brk is None:
        assert checked.code == 0, checked.out
        _map_one(evaluated)
        return
    if checked.code == 0:
        assert brk.may_pass, f"{brk} passed check-data"
    else:
        assert checked.code == 2 and any(all(n in ln for n in needles) for ln in checked.out.splitlines()), (
            needles, checked.out)
    if evaluated.code != 0:  # a break the ground truth's reader reads (not the per-video features: lazy)
        evaluated.one_line_error(*needles)
    else:
        assert brk.may_pass or brk.lazy, f"{brk} passed evaluate"


@settings(max_examples=examples(2))
@given(spec=bundle_spec(), data=st.data())
def test_bundle_through_check_data_and_evaluate(spec, data):
    brk = data.draw(st.none() | st.sampled_from(BUNDLE_BREAKS))
    with tempfile.TemporaryDirectory() as d:
        root, pred = write_spec(Path(d) / "data", spec), Path(d) / "pred.json"
        pred.write_text(json.dumps(_dataset_predictions(root)))
        needles = brk.apply(root, spec, data.draw) if brk else ()
        _dataset_property(root, brk, (str(root),) if brk is not None and brk.may_pass else needles, pred)


@settings(max_examples=examples(2))
@given(spec=pervideo_spec(), data=st.data())
def test_pervideo_through_check_data_and_evaluate(spec, data):
    brk = data.draw(st.none() | st.sampled_from(PERVIDEO_BREAKS))
    with tempfile.TemporaryDirectory() as d:
        root, pred = write_pervideo(Path(d) / "data", spec), Path(d) / "pred.json"
        pred.write_text(json.dumps(_dataset_predictions(root)))
        needles = brk.apply(root, spec, data.draw) if brk else ()
        _dataset_property(root, brk, (str(root),) if brk is not None and brk.may_pass else needles, pred)


# --- run records ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(smoke_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("records") / "run"
    call_cli([*TRAIN, "--data", smoke_root, "--out", out]).ok()
    return out


@settings(max_examples=examples(1))
@given(data=st.data())
def test_train_on_fuzzed_run_records(finished_run, smoke_root, data):
    """``himnet train --out RUN`` over a finished run whose params.json or metrics.json was changed:
    it is still this finished run (nothing to do), or one line naming the record; nothing written."""
    name = data.draw(st.sampled_from([RunDir.PARAMS, RunDir.METRICS]))
    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "run"
        shutil.copytree(finished_run, run)
        raw, path = data.draw(mutated_record(json.loads((run / name).read_text())))
        (run / name).write_bytes(raw)
        before = snapshot(Path(d))
        out = call_cli([*TRAIN, "--data", smoke_root, "--out", run])
        no_leftovers(before, snapshot(Path(d)))
    if out.code == 0:
        out.ok()
        assert "already finished; nothing to do" in out.err and "average mAP" in out.out
    else:
        out.one_line_error(name)


# --- --set over every setting ---------------------------------------------------------------------

SETTINGS = sorted(flatten(RunConfig().to_dict()))


@given(key=st.one_of(st.sampled_from(SETTINGS), st.sampled_from(SETTINGS).map(lambda k: k.rpartition(".")[2]),
                     st.sampled_from(["train.nosuch", "nosuch", "model.train.lr", ".lr", "train."])),
       value=value_text())
def test_train_with_a_fuzzed_setting(key, value, smoke_root):
    """``--set key=value`` over every known setting (and some unknown): accepted settings reach the
    trainer checked (what it checks again after filling in the data's dimensions passes), refused ones
    are one line naming the setting, and nothing is written."""
    given_cfg = []

    def trainer(cfg, data, out, **kwargs):
        cfg = resolve_config(dataclasses.replace(cfg), feature_dim=32, num_classes=6)
        check_config(cfg)
        given_cfg.append(cfg)
        return {}

    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr("himnet_lib.engine.train.train_run", trainer)
        before = snapshot(Path(d))
        out = call_cli([*TRAIN, "--data", smoke_root, "--out", Path(d) / "r", "--set", f"{key}={value}"])
        no_leftovers(before, snapshot(Path(d)))
    if out.code == 0:
        out.ok()
        assert len(given_cfg) == 1
    else:
        assert not given_cfg
        out.one_line_error(key.rpartition(".")[2] or key)


# --- cluster files --------------------------------------------------------------------------------

@given(cfg=cluster_settings(), data=st.data())
def test_reproduce_with_a_fuzzed_cluster_file(cfg, data):
    """``reproduce --executor slurm --cluster FILE`` (Slurm's commands stand-ins): a valid file reaches
    ``reproduce`` with its settings, one with a setting broken is one line naming the file and the
    setting (or the partition and its limit), before anything is submitted or made."""
    broken = data.draw(st.none() | st.sampled_from(sorted(CLUSTER_JUNK)))
    if broken is not None:
        cfg = {**cfg, broken: data.draw(CLUSTER_JUNK[broken])}
    needs_yaml = any(v is None for v in cfg.values())
    suffix = ".yaml" if needs_yaml else data.draw(st.sampled_from([".yaml", ".yml", ".toml"]))
    damaged = broken is None and data.draw(st.booleans())
    calls = []
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        bin_dir = fake_slurm.install(Path(d) / "bin")
        mp.setenv("PATH", fake_slurm.path_with(bin_dir))
        mp.setattr("himnet_lib.engine.reproduce.reproduce", lambda *a, **k: calls.append(k))
        f = Path(d) / f"cluster{suffix}"
        f.write_text(cluster_text(cfg, suffix))
        if damaged:
            f.write_bytes(data.draw(damaged_bytes(f.read_bytes())))
        before = snapshot(Path(d))
        out = call_cli(["reproduce", "--profile", "smoke", "--seeds", "1", "--executor", "slurm", "--cluster", f,
                        "--results", Path(d) / "results"])
        no_leftovers(before, snapshot(Path(d)))
        assert not fake_slurm.sbatch_called(bin_dir)
    if broken is None and not damaged:
        out.ok()
        assert len(calls) == 1 and {k: v for k, v in calls[0]["slurm"].items()} == cfg
    elif damaged:  # what the damage made of the file is unknown: still valid, or refused naming the file or the
        # setting it changed (a partition name cut short is one Slurm does not have)
        if out.code == 0:
            assert len(calls) == 1
        else:
            line = out.one_line_error()
            assert str(f) in line or "Slurm has no partition" in line, line
    elif broken == "partition" and cfg[broken] in ("short", "nosuch"):
        out.one_line_error(f"'{cfg[broken]}'", *([fake_slurm.SHORT_LIMIT] if cfg[broken] == "short" else []))
    else:
        out.one_line_error(str(f), *([broken] if broken else []))
