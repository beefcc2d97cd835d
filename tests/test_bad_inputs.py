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
]


@pytest.fixture(scope="module")
def stopped_run(smoke_root, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("bad") / "run"
    assert main([*TRAIN, "--stop-after", "4", "--data", str(smoke_root), "--out", str(run)]) == 0
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
def test_bad_input_gets_one_line(case, smoke_root, stopped_run, tmp_path, capsys):
    _, _, setup, needle = case
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


def _table() -> str:  # pragma: no cover - the docs table, printed by running this file
    import contextlib
    import io
    import tempfile

    from himnet_lib.datasets.synthetic.writer import make_synthetic
    rows = ["| input | message (stderr, exit status 2) |", "|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        smoke = make_synthetic("smoke", seed=0, out=base / "smoke")
        run = base / "run"
        main([*TRAIN, "--stop-after", "4", "--data", str(smoke), "--out", str(run)])
        for i, (_, what, setup, _) in enumerate(CASES):
            tmp = base / f"c{i}"
            tmp.mkdir()
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                main([str(a) for a in setup(tmp, smoke, run)])
            msg = err.getvalue().strip().replace(d, "<tmp>").replace("|", "\\|")
            rows.append(f"| {what} | `{msg}` |")
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover
    print(_table())
    sys.exit(0)
