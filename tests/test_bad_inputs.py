"""Every bad input tried (docs/bad_inputs.md): one line on stderr naming the problem, no traceback,
a non-zero exit. The CLI runs in-process (himnet_lib.cli.main); one case needs a subprocess.

``python tests/test_bad_inputs.py`` prints the table of docs/bad_inputs.md from these cases."""

from __future__ import annotations

import builtins
import errno
import json
import shutil
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from himnet_lib.cli import main
from himnet_lib.datasets.bundle import write_bundle

TRAIN = ["train", "--profile", "smoke", "--threads", "1"]


def _bundle(root: Path, **over) -> Path:
    rng = np.random.default_rng(0)
    spec = dict(
        classes=["Jump", "Run"], videonames=["v0", "v1", "v2", "v3"],
        subsets=["validation", "validation", "test", "test"],
        segments=[np.array([[0.5, 1.5]]), np.array([[0.2, 0.9]]), np.array([[1.0, 2.0]]), np.array([[0.0, 1.0]])],
        labels=[["Jump"], ["Run"], ["Run"], ["Jump"]], labels_all=[["Jump"], ["Run"], ["Run"], ["Jump"]],
        durations=[3.0, 2.0, 4.0, 3.0],
        features=[rng.standard_normal((T, 6)).astype(np.float32) for T in (5, 4, 7, 5)])
    spec.update(over)
    write_bundle(root, "Bad", **spec)
    return root


class _Planted:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


# Each case: (id, what is tried, setup(tmp, smoke_root, stopped_run) -> argv, text the message must hold)
Setup = Callable[[Path, Path, Path], list]


def _train_set(setting: str) -> Setup:
    return lambda tmp, smoke, run: [*TRAIN, "--data", str(smoke), "--out", str(tmp / "r"), "--set", setting]


def _reproduce(*args: str) -> Setup:
    """``himnet reproduce --profile smoke <args>`` into the case's folder."""
    return lambda tmp, smoke, run: ["reproduce", "--profile", "smoke", *args, "--results", str(tmp)]


def _run_copy(tmp: Path, run: Path) -> Path:
    dst = tmp / "run"
    shutil.copytree(run, dst)
    return dst


def _resume(edit: Callable[[Path], None]) -> Setup:
    def setup(tmp, smoke, run):
        dst = _run_copy(tmp, run)
        edit(dst)
        return [*TRAIN, "--stop-after", "4", "--data", str(smoke), "--out", str(dst)]
    return setup


def _user_folder(tmp, smoke, run):
    out = tmp / "mine"
    out.mkdir()
    for name in ("metrics.json", "predictions.json", "history.csv"):
        (out / name).write_text("the user's own file\n")
    return [*TRAIN, "--data", str(smoke), "--out", str(out)]


def _foreign_metrics(tmp, smoke, run):
    out = tmp / "foreign"
    out.mkdir()
    (out / "metrics.json").write_text('{"accuracy": 0.9}\n')
    return [*TRAIN, "--data", str(smoke), "--out", str(out)]


def _out_is_file(tmp, smoke, run):
    (tmp / "f").write_text("x")
    return [*TRAIN, "--data", str(smoke), "--out", str(tmp / "f")]


def _out_under_file(tmp, smoke, run):
    (tmp / "f").write_text("x")
    return [*TRAIN, "--data", str(smoke), "--out", str(tmp / "f" / "run")]


def _planted_localize(tmp, smoke, run):
    dst = _run_copy(tmp, run)
    good = torch.load(dst / "checkpoint.pt", weights_only=True)
    torch.save({**good, "model": _Planted(tmp / "marker")}, dst / "checkpoint.pt")
    return ["localize", "--run", str(dst), "--data", str(smoke), "--out", str(tmp / "p.json")]


def _pred(text: bytes | str) -> Setup:
    def setup(tmp, smoke, run):
        p = tmp / "pred.json"
        p.write_bytes(text.encode() if isinstance(text, str) else text)
        return ["evaluate", "--gt", str(smoke), "--pred", str(p)]
    return setup


def _nested_gt(tmp, smoke, run):
    gt = tmp / "gt.json"
    gt.write_text("[" * 100_000 + "]" * 100_000)
    pred = tmp / "pred.json"
    pred.write_text('{"results": {}}')
    return ["evaluate", "--gt", str(gt), "--pred", str(pred)]


def _bundle_train(**over) -> Setup:
    def setup(tmp, smoke, run):
        return [*TRAIN, "--data", str(_bundle(tmp / "data", **over)), "--out", str(tmp / "r")]
    return setup


def _ambiguous_not_utf8(tmp, smoke, run):
    root = _bundle(tmp / "data")
    (root / "Bad-Annotations" / "Ambiguous_test.txt").write_bytes(b"v2 0.0 1.0\nv3 \xff\xfe 2.0\n")
    return [*TRAIN, "--data", str(root), "--out", str(tmp / "r")]


def _gt_name_escapes(tmp, smoke, run):
    root = tmp / "pv"
    root.mkdir()
    (root / "gt.json").write_text(json.dumps({"database": {"../../etc/x": {"subset": "test", "annotations": []}}}))
    return [*TRAIN, "--data", str(root), "--out", str(tmp / "r")]


def _float64_overflow_bundle(root: Path) -> Path:
    """A bundle whose features are float64 with one value beyond float32's range (write_bundle
    itself writes float32, so the features file is rewritten)."""
    from himnet_lib.datasets.bundle import _object_array
    from himnet_lib.datasets.safe_npy import save_object_array
    _bundle(root)
    rng = np.random.default_rng(0)
    f = [rng.standard_normal((T, 6)) for T in (5, 4, 7, 5)]
    f[1][2, 3] = 1e39
    with open(root / "Bad-I3D-JOINTFeatures.npy", "wb") as fh:
        save_object_array(fh, _object_array(f))
    return root


def _evaluate_gt(obj: dict | str) -> Setup:
    """``himnet evaluate --gt gt.json`` of ``obj`` (a dict, or the file's text) with a valid prediction file."""
    def setup(tmp, smoke, run):
        gt = tmp / "gt.json"
        gt.write_text(obj if isinstance(obj, str) else json.dumps(obj))
        pred = tmp / "pred.json"
        pred.write_text(json.dumps({"version": "1", "external_data": {}, "results": {
            "v": [{"label": "a", "segment": [1.0, 2.0], "score": 0.9}]}}))
        return ["evaluate", "--gt", str(gt), "--pred", str(pred)]
    return setup


def _gt_one(**entry) -> dict:
    """A ground truth of one test video ``v`` (one annotation of ``a``), its entry updated by ``entry``."""
    return {"database": {"v": {"subset": "test", "annotations": [{"segment": [1.0, 2.0], "label": "a"}], **entry}}}


def _pervideo(entries: dict, splits: bool = True) -> Setup:
    """``himnet train --data`` a per-video root whose gt.json database is ``entries`` (two-snippet features)."""
    def setup(tmp, smoke, run):
        root = tmp / "pv"
        for vid, e in entries.items():
            sub = e.get("subset") if isinstance(e, dict) and isinstance(e.get("subset"), str) else "test"
            for stream in ("rgb", "flow"):
                (root / "features" / sub / stream).mkdir(parents=True, exist_ok=True)
                np.save(root / "features" / sub / stream / f"{vid}.npy", np.zeros((2, 2), np.float32))
        (root / "gt.json").write_text(json.dumps({"database": entries}))
        if splits:
            for sub in ("train", "test"):
                (root / f"split_{sub}.txt").write_text("".join(f"{v}\n" for v, e in entries.items()
                                                               if isinstance(e, dict) and e.get("subset") == sub))
        return [*TRAIN, "--data", str(root), "--out", str(tmp / "r")]
    return setup


PV_OK = {"t": {"subset": "train", "annotations": [{"segment": [0, 1], "label": "a"}]}}


def _bundle_file(name: str, write: Callable[[Path], None]) -> Setup:
    """``himnet check-data``-free path: ``himnet train --data`` a bundle whose file ``name`` is rewritten."""
    def setup(tmp, smoke, run):
        root = _bundle(tmp / "data")
        target = root / name
        write(target)
        return [*TRAIN, "--data", str(root), "--out", str(tmp / "r")]
    return setup


def _npy_bytes(header: bytes, body: bytes = b"") -> Callable[[Path], None]:
    def write(path: Path) -> None:
        head = header + b" " * (117 - len(header)) + b"\n"
        path.write_bytes(b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + body)
    return write


def _np_save(arr) -> Callable[[Path], None]:
    return lambda path: np.save(path, arr)


def _finished_copy(edit: Callable[[dict], dict | list], name: str = "metrics.json") -> Setup:
    """``himnet train --out`` a copy of a finished run whose record ``name`` was edited."""
    def setup(tmp, smoke, run):
        dst = tmp / "run"
        shutil.copytree(_FINISHED[0], dst)
        (dst / name).write_text(json.dumps(edit(json.loads((dst / name).read_text())), allow_nan=True))
        return [*TRAIN, "--data", str(smoke), "--out", str(dst)]
    return setup


_FINISHED: list[Path] = []  # the finished run of the module's fixture (set by it)


def _localize_edited(edit: Callable[[str], str]) -> Setup:
    def setup(tmp, smoke, run):
        dst = tmp / "run"
        shutil.copytree(_FINISHED[0], dst)
        (dst / "params.json").write_text(edit((dst / "params.json").read_text()))
        return ["localize", "--run", str(dst), "--data", str(smoke), "--out", str(tmp / "p.json")]
    return setup


def _cluster(text: bytes, suffix: str = ".yaml", *extra: str) -> Setup:
    def setup(tmp, smoke, run):
        f = tmp / f"cluster{suffix}"
        f.write_bytes(text)
        return ["reproduce", "--profile", "smoke", "--executor", "slurm", "--cluster", str(f), "--results",
                str(tmp / "results"), *extra]
    return setup


def _hide_submitit(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    mp.setitem(sys.modules, "submitit", None)  # import submitit raises ImportError, as when not installed


def _fake_slurm_path(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    import fake_slurm
    mp.setenv("PATH", fake_slurm.path_with(fake_slurm.install(tmp / "bin")))


def _no_sbatch(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    (tmp / "empty").mkdir()
    mp.setenv("PATH", str(tmp / "empty"))


def _nan_features_bundle(tmp, smoke, run):
    rng = np.random.default_rng(0)
    f = [rng.standard_normal((T, 6)).astype(np.float32) for T in (5, 4, 7, 5)]
    f[2][3, 1] = np.nan
    return [*TRAIN, "--data", str(_bundle(tmp / "data", features=f)), "--out", str(tmp / "r")]


CASES: list[tuple[str, str, Setup, str]] = [
    ("iterations", "`--set train.iterations=-5`", _train_set("train.iterations=-5"),
     "setting train.iterations must be an integer >= 1"),
    ("checkpoint_interval", "`--set train.checkpoint_interval=0`", _train_set("train.checkpoint_interval=0"),
     "train.checkpoint_interval must be"),
    ("log_interval", "`--set train.log_interval=0`", _train_set("train.log_interval=0"), "train.log_interval must be"),
    ("lr_nan", "`--set train.lr=.nan`", _train_set("train.lr=.nan"), "train.lr must be a finite number > 0"),
    ("lr_negative", "`--set train.lr=-1`", _train_set("train.lr=-1"), "train.lr must be a finite number > 0"),
    ("batch_size", "`--set train.batch_size=0`", _train_set("train.batch_size=0"), "train.batch_size must be"),
    ("seq_len", "`--set train.seq_len=0`", _train_set("train.seq_len=0"), "train.seq_len must be"),
    ("n_pairs", "`--set train.n_pairs=99`", _train_set("train.n_pairs=99"), "train.n_pairs must be"),
    ("sampling", "`--set train.sampling=zzz`", _train_set("train.sampling=zzz"), "train.sampling must be one of"),
    ("amp", "`--set train.amp=fp8`", _train_set("train.amp=fp8"), "train.amp must be one of"),
    ("nms", "`--set localize.nms=zzz`", _train_set("localize.nms=zzz"), "nms must be"),
    ("dropout", "`--set model.dropout=1.5`", _train_set("model.dropout=1.5"), "model.dropout must be"),
    ("unknown_setting", "`--set train.nosuch=1`", _train_set("train.nosuch=1"), "unknown setting"),
    ("threads", "`train --threads -1`",
     lambda tmp, smoke, run: ["train", "--data", str(smoke), "--out", str(tmp / "r"), "--threads", "-1"],
     "--threads must be >= 1"),
    ("reproduce_seeds", "`reproduce --seeds 0`", _reproduce("--seeds", "0"), "--seeds must be >= 1"),
    ("reproduce_workers", "`reproduce --workers 0`", _reproduce("--workers", "0"), "--workers must be >= 1"),
    ("reproduce_notebook", "`reproduce --notebooks nosuch`", _reproduce("--notebooks", "nosuch"),
     "unknown study notebook(s) 'nosuch'"),
    ("reproduce_notebook_path", "`reproduce --notebooks ../../x`", _reproduce("--notebooks", "../../x"),
     "unknown study notebook(s) '../../x'"),
    ("out_user_files", "`train --out` a folder of the user's metrics.json, predictions.json, history.csv",
     _user_folder, "is not empty and holds no run"),
    ("out_foreign_metrics", "`train --out` a folder holding only a foreign metrics.json", _foreign_metrics,
     "is not empty and holds no run"),
    ("out_is_file", "`train --out` an existing file", _out_is_file, "is a file, not a directory"),
    ("out_under_file", "`train --out` below a file (a file in the way)", _out_under_file, "Not a directory"),
    ("localize_out_user_file", "`localize --out` an existing file that himnet did not write",
     lambda tmp, smoke, run: (tmp / "mine.json").write_text('{"mine": 1}') and
     ["localize", "--run", str(run), "--data", str(smoke), "--out", str(tmp / "mine.json")],
     "exists and is not a result file written by himnet"),
    ("params_truncated", "truncated `params.json` of a run",
     _resume(lambda d: (d / "params.json").write_text((d / "params.json").read_text()[:100])),
     "params.json is damaged"),
    ("metrics_empty", "empty `metrics.json` in a run", _resume(lambda d: (d / "metrics.json").write_text("")),
     "metrics.json is damaged"),
    ("metrics_partial", "`metrics.json` without `average_mAP` in a run",
     _resume(lambda d: (d / "metrics.json").write_text('{"tiou": [0.5], "mAP": [0.1]}')),
     "is not this run's finished metrics (no 'average_mAP')"),
    ("checkpoint_empty", "empty `checkpoint.pt`", _resume(lambda d: (d / "checkpoint.pt").write_bytes(b"")),
     "checkpoint.pt is damaged"),
    ("checkpoint_truncated", "truncated `checkpoint.pt`",
     _resume(lambda d: (d / "checkpoint.pt").write_bytes((d / "checkpoint.pt").read_bytes()[:5000])),
     "checkpoint.pt is damaged"),
    ("checkpoint_planted", "`localize --run` with a planted code-running `checkpoint.pt`", _planted_localize,
     "checkpoint.pt is refused"),
    ("pred_nested", "`evaluate --pred` nested 100,000 deep", _pred("[" * 100_000 + "]" * 100_000),
     "nested too deeply"),
    ("gt_nested", "`evaluate --gt gt.json` nested 100,000 deep", _nested_gt, "nested too deeply"),
    ("pred_bigint", "`evaluate --pred` with a 400-digit score",
     _pred('{"results": {"v": [{"label": "a", "segment": [0, 1], "score": 1' + "0" * 399 + '}]}}'),
     "integer of 400 digits"),
    ("pred_not_utf8", "`evaluate --pred` with non-UTF-8 bytes", _pred(b'{"results": {"\xff": []}}'),
     "malformed JSON"),
    ("ambiguous_not_utf8", "non-UTF-8 bytes in `Ambiguous_test.txt`", _ambiguous_not_utf8, "is not UTF-8 text"),
    ("duplicate_video", "two videos of one name in a bundle",
     _bundle_train(videonames=["v0", "v1", "v2", "v2"]), "duplicate video name"),
    ("float32_overflow", "float64 features beyond float32 (1e39)",
     lambda tmp, smoke, run: [*TRAIN, "--data", str(_float64_overflow_bundle(tmp / "data")), "--out", str(tmp / "r")],
     "features do not fit float32"),
    ("empty_test", "no test videos", _bundle_train(subsets=["validation"] * 4), "has no evaluation videos"),
    ("name_escapes_root", "per-video `gt.json` naming a video `../../etc/x`", _gt_name_escapes,
     "video name is not a plain file name"),
    # --- found by the fuzz tests (tests/test_fuzz_*.py) or in their review, now plain cases (FOUND) ---
    ("gt_subset_list", "ground truth JSON: a video's `subset` is a list", _evaluate_gt(_gt_one(subset=["test"])),
     "'subset' must be a string"),
    ("gt_label_number", "ground truth JSON: a label that is a number", _evaluate_gt(
        _gt_one(annotations=[{"segment": [1, 2], "label": 7}])), "field annotations[0].label"),
    ("gt_annotations_null", "ground truth JSON: the test video's `annotations` is null (another subset has some)",
     _evaluate_gt({"database": {"v": {"subset": "test", "annotations": None},
                                "w": {"subset": "validation", "annotations": [{"segment": [0, 1], "label": "a"}]}}}),
     "video v, field annotations"),
    ("pv_label_list", "per-video `gt.json`: a label that is a list",
     _pervideo({**PV_OK, "v": {"subset": "test", "annotations": [{"segment": [0, 1], "label": ["Run"]}]}}),
     "label must be a string, got ['Run']"),
    ("pv_annotations_number", "per-video `gt.json`: `annotations` is a number",
     _pervideo({**PV_OK, "v": {"subset": "test", "annotations": 5}}, splits=False), "field annotations]"),
    ("pv_nan_segment", "per-video `gt.json`: a segment `[\"nan\", \"1\"]` after a good one",
     _pervideo({**PV_OK, "v": {"subset": "test", "annotations": [{"segment": [0, 1], "label": "a"},
                                                                 {"segment": ["nan", "1"], "label": "a"}]}}),
     "annotation 1: segment boundaries must be finite"),
    ("pv_no_subset", "per-video `gt.json` without split files: a video without `subset`",
     _pervideo({**PV_OK, "v": {"annotations": []}}, splits=False), "video v, field subset"),
    ("npy_header_tokens", "an `.npy` header Python's tokenizer cannot read",
     _bundle_file("Bad-Annotations/subset.npy",
                  _npy_bytes(b"{'descr': '<U1'}, 'fortran_order': False, 'shape': (1,), }")),
     "not a valid .npy file: TokenError"),
    ("npy_header_huge", "an `.npy` header promising 10^12 floats in a 100-byte file",
     _bundle_file("Bad-Annotations/duration.npy",
                  _npy_bytes(b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", b"\0" * 100)),
     "the header promises 8000000000000 bytes"),
    ("bundle_0d_array", "`segments.npy` holding a single number (a 0-d array)",
     _bundle_file("Bad-Annotations/segments.npy", _np_save(np.array(3.5))), "a single value (a 0-d array)"),
    ("set_huge_int", "`--set train.lr=1` followed by 400 zeros", _train_set("train.lr=1" + "0" * 400),
     "setting 'train.lr' expects a finite number"),
    ("set_deep_brackets", "`--set train.lr=` 3,000 `[`", _train_set("train.lr=" + "[" * 3000),
     "setting train.lr: cannot parse the value"),
    ("set_5000_digits", "`--set train.seed=` a 5,000-digit integer", _train_set("train.seed=1" + "0" * 5000),
     "setting train.seed: cannot parse the value"),
    ("set_alpha_nan", "`--set loss.alpha=.nan`", _train_set("loss.alpha=.nan"),
     "setting loss.alpha must be a finite number, got nan"),
    ("set_gamma_inf", "`--set localize.gamma=.inf`", _train_set("localize.gamma=.inf"),
     "setting localize.gamma must be a finite number, got inf"),
    ("set_three_parts", "`--set model.train.lr=0`", _train_set("model.train.lr=0"), "unknown setting 'model.train.lr'"),
    ("set_reading_list", "`--set reading=[a]`", _train_set("reading=[a]"), "setting reading must be one of"),
    ("set_seed_big", "`--set train.seed=2**40`", _train_set(f"train.seed={2**40}"),
     "train.seed must be an integer of magnitude below 2**31"),
    ("metrics_no_tiou", "`metrics.json` of a finished run with empty `tiou` and `mAP`",
     _finished_copy(lambda m: {**m, "tiou": [], "mAP": []}), "'tiou' is empty"),
    ("metrics_nan", "`metrics.json` of a finished run with `average_mAP` NaN",
     _finished_copy(lambda m: {**m, "average_mAP": float("nan")}), "'average_mAP' is nan, not a number in [0, 1]"),
    ("metrics_map_text", "`metrics.json` of a finished run with a text in `mAP`",
     _finished_copy(lambda m: {**m, "mAP": ["high"] + m["mAP"][1:]}), "'mAP' holds 'high'"),
    ("params_config_list", "`params.json` whose `config` is a list",
     _finished_copy(lambda p: {**p, "config": []}, "params.json"), "params.json is damaged ('config' is a list)"),
    ("params_data_text", "`params.json` whose `data` is a text",
     _finished_copy(lambda p: {**p, "data": "x"}, "params.json"), "params.json is damaged ('data' is a str"),
    ("localize_params_truncated", "`localize --run` with a truncated `params.json`",
     _localize_edited(lambda t: t[:50]), "params.json is damaged"),
    ("localize_config_edited", "`localize --run` whose `params.json` config was edited (another model width)",
     _localize_edited(lambda t: t.replace('"attention_hidden": ', '"attention_hidden": 1', 1)),
     "its config is not the run"),
    ("cluster_not_utf8", "`--cluster` file with non-UTF-8 bytes", _cluster(b"partition: \xff\n"), "not UTF-8"),
    ("cluster_cpus_text", "`--cluster` file with `cpus_per_task: abc`", _cluster(b"cpus_per_task: abc\n"),
     "cpus_per_task must be a whole number >= 1, got 'abc'"),
    ("cluster_cpus_inf", "`--cluster` TOML file with `cpus_per_task = inf`",
     _cluster(b"cpus_per_task = inf\n", ".toml"), "setting cpus_per_task must be a whole number >= 1, got inf"),
    ("cluster_additional", "`--cluster` file with `additional_parameters: 5`",
     _cluster(b"additional_parameters: 5\n"), "setting additional_parameters"),
    ("cluster_partition_null", "`--cluster` file with `partition:` and no value", _cluster(b"partition:\n"),
     "setting partition has no value"),
    ("device_unknown", "`train --device gpu`",
     lambda tmp, smoke, run: [*TRAIN, "--data", str(smoke), "--out", str(tmp / "r"), "--device", "gpu"],
     "--device 'gpu' is not a device"),
    # --- non-finite values, where they enter ---
    ("nan_features", "NaN in one snippet of a bundle's features", _nan_features_bundle,
     "snippet 3 (nan at feature 1) [file"),
    ("gt_nan_segment", "ground truth JSON: a bare `NaN` segment bound", _evaluate_gt(
        '{"database": {"v": {"subset": "test", "annotations": [{"segment": [NaN, 2], "label": "a"}]}}}'),
     "segment boundaries must be finite"),
    ("pred_inf_score", "`evaluate --pred` with a score `Infinity`", _pred(
        '{"version": "1", "external_data": {}, "results": {"v": [{"label": "a", "segment": [0, 1], '
        '"score": Infinity}]}}'), "field results[0].score"),
    ("evaluate_snippet_inf", "`evaluate --snippet-seconds inf` on a dataset root",
     lambda tmp, smoke, run: ["evaluate", "--gt", str(smoke), "--pred", str(tmp), "--snippet-seconds", "inf"],
     "snippet_seconds must be a finite number > 0"),
    ("diverged", "`train --set train.lr=1e30`: the loss goes NaN", _train_set("train.lr=1e30"),
     "diverged at iteration 2: the loss term 'mil' became nan first"),
    # --- checked before work starts ---
    ("slurm_no_submitit", "`reproduce --executor slurm` without submitit installed", _reproduce("--executor", "slurm"),
     "needs submitit, the extra 'cluster'"),
    ("slurm_no_sbatch", "`reproduce --executor slurm` where there is no sbatch", _reproduce("--executor", "slurm"),
     "no sbatch on PATH"),
    ("slurm_max_time", "`reproduce --executor slurm --slurm-partition short --notebooks 02_ablation_table3` "
     "(MaxTime 1 minute)", _reproduce("--executor", "slurm", "--slurm-partition", "short", "--notebooks",
                                      "02_ablation_table3"), "Slurm partition 'short' allows at most 00:01:00"),
    ("slurm_no_partition", "`reproduce --executor slurm --slurm-partition nosuch`",
     _reproduce("--executor", "slurm", "--slurm-partition", "nosuch"), "Slurm has no partition 'nosuch'"),
    ("slurm_cpus_threads", "`reproduce --executor slurm --threads 1 --slurm-cpus-per-task 2`",
     _reproduce("--executor", "slurm", "--threads", "1", "--slurm-cpus-per-task", "2"),
     "--threads 1 and cpus_per_task 2 differ"),
    ("reproduce_data_missing", "`reproduce --data` a folder that does not exist",
     lambda tmp, smoke, run: ["reproduce", "--profile", "smoke", "--data", str(tmp / "nope"), "--results",
                              str(tmp / "r")], "--data"),
    ("results_under_file", "`reproduce --results` below a file",
     lambda tmp, smoke, run: (tmp / "f").write_text("x") and ["reproduce", "--profile", "smoke", "--results",
                                                              str(tmp / "f" / "r")], "Not a directory"),
]

# The cases whose inputs need the process changed (a module hidden, Slurm's commands on PATH).
PATCHES: dict[str, Callable[[pytest.MonkeyPatch, Path], None]] = {
    "slurm_no_submitit": _hide_submitit, "slurm_no_sbatch": _no_sbatch, "slurm_max_time": _fake_slurm_path,
    "slurm_no_partition": _fake_slurm_path, "slurm_cpus_threads": _fake_slurm_path,
}
for _case in ("cluster_not_utf8", "cluster_cpus_text", "cluster_cpus_inf", "cluster_additional",
              "cluster_partition_null"):
    PATCHES[_case] = _fake_slurm_path

# The failures that the fuzzing found (how it found them) or its review found, each kept as a case.
FOUND: dict[str, str] = {
    "gt_subset_list": "fuzz, CI profile: TypeError (unhashable list)",
    "gt_label_number": "fuzz, CI profile: the field was named `label`, not the annotation's",
    "gt_annotations_null": "fuzz, long profile: the default subset skipped to `validation` silently",
    "pv_label_list": "fuzz, CI profile: TypeError (unhashable list)",
    "pv_annotations_number": "fuzz, CI profile: TypeError (a number is not iterable), or silently no annotations",
    "pv_nan_segment": "fuzz, CI profile: named as segment 0 of the parsed ones, field `segments`",
    "pv_no_subset": "fuzz, CI profile: features looked for under `features//rgb`",
    "npy_header_tokens": "fuzz, long profile: tokenize.TokenError escaped the .npy reader",
    "bundle_0d_array": "fuzz, long profile: TypeError (len() of unsized object)",
    "set_three_parts": "fuzz (CLI), CI profile: AttributeError",
    "set_reading_list": "review of the CLI fuzz's settings: TypeError (unhashable list)",
    "set_huge_int": "review: OverflowError", "set_deep_brackets": "review: RecursionError",
    "set_5000_digits": "review: ValueError (int digits limit)",
    "set_alpha_nan": "review: accepted, then ValueError writing params.json after making --out",
    "set_gamma_inf": "review: as set_alpha_nan", "set_seed_big": "review: accepted, torch.manual_seed fails later",
    "npy_header_huge": "review: an allocation of the header's size before reading",
    "metrics_no_tiou": "review: IndexError printing the finished run's summary",
    "metrics_nan": "review: a NaN accepted as a finished run's mAP",
    "metrics_map_text": "review: ValueError formatting the summary",
    "params_config_list": "review: AttributeError in the run comparison",
    "params_data_text": "review: AttributeError in the run comparison",
    "localize_params_truncated": "review: JSONDecodeError (localize read params.json with json.loads)",
    "localize_config_edited": "review: RuntimeError loading the checkpoint into another model",
    "cluster_not_utf8": "review: UnicodeDecodeError", "cluster_cpus_text": "review: ValueError in int()",
    "cluster_cpus_inf": "review: OverflowError in int()", "cluster_additional": "review: TypeError in dict()",
    "slurm_no_partition": "review: real scontrol prints 'not found' on stdout: the partition check never fired",
    "device_unknown": "review: RuntimeError from torch.device",
    "diverged": "review: a torch UserWarning with a source line came before the error",
}


@pytest.fixture(scope="module")
def stopped_run(smoke_root, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("bad") / "run"
    assert main([*TRAIN, "--stop-after", "4", "--data", str(smoke_root), "--out", str(run)]) == 0
    finished = run.parent / "finished"
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(finished)]) == 0
    _FINISHED[:] = [finished]
    return run


def _one_line_error(argv: list, capsys) -> str:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code != 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line(case, smoke_root, stopped_run, tmp_path, capsys, monkeypatch):
    _, _, setup, needle = case
    if case[0] in PATCHES:
        PATCHES[case[0]](monkeypatch, tmp_path)
    argv = setup(tmp_path, smoke_root, stopped_run)
    line = _one_line_error(argv, capsys)
    assert needle in line, line
    assert not (tmp_path / "marker").exists(), "a planted checkpoint ran its code"
    if case[0] == "out_user_files":  # and nothing of the user's was touched
        assert all((tmp_path / "mine" / n).read_text() == "the user's own file\n"
                   for n in ("metrics.json", "predictions.json", "history.csv"))


def test_disk_full_is_one_line_naming_the_file(smoke_root, tmp_path, capsys, monkeypatch):
    import himnet_lib.utils.fileio as hio

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hio.os, "fsync", full)
    line = _one_line_error([*TRAIN, "--data", str(smoke_root), "--out", str(tmp_path / "r")], capsys)
    assert "params.json" in line and "No space left on device" in line
    assert not list((tmp_path / "r").glob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("make,needle", [
    (lambda root: _bundle(root, videonames=["v0", "v1", "v2", "v2"]), "duplicate video name"),
    (_float64_overflow_bundle, "features do not fit float32"),
    (lambda root: _bundle(root, subsets=["validation"] * 4), "subset has no usable videos"),
], ids=["duplicate", "float32", "empty_test"])
def test_check_data_fails_on_what_training_rejects(tmp_path, capsys, make, needle):
    root = make(tmp_path / "data")
    assert main(["check-data", str(root)]) == 2
    out = capsys.readouterr()
    assert needle in out.out and "Traceback" not in out.out + out.err


def test_docs_list_every_case_and_the_fuzzing():
    """docs/bad_inputs.md is made from these cases (tests/bad_inputs_doc.py): each case is there, with
    its count, every failure found has its case, and the example counts are the profiles' now."""
    import conftest
    from bad_inputs_doc import examples_per_run

    doc = (Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md").read_text()
    assert f"({len(CASES)} hand-written cases plus disk full)" in doc
    for _, what, _, _ in CASES:
        assert f"| {what.replace('|', chr(92) + '|')} | `himnet " in doc, what
    ids = {c[0] for c in CASES}
    assert set(FOUND) <= ids and set(PATCHES) <= ids
    for case_id in FOUND:
        assert f"| `{case_id}` |" in doc, case_id
    assert f"runs **{examples_per_run(conftest.CI_EXAMPLES)[1]}** in all" in doc
    assert f"runs **{examples_per_run(conftest.FUZZ_EXAMPLES)[1]}**." in doc


if __name__ == "__main__":  # pragma: no cover - the whole of docs/bad_inputs.md
    from bad_inputs_doc import document
    print(document(), end="")
    sys.exit(0)
