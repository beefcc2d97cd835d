"""Paper-scale end-to-end smoke test: 2048-d features, the thumos14 profile (B=10, T=560, the
29.9 M-parameter network), 3 training iterations through the CLI, then localization and evaluation
(train_run does both) and the run records.

Data: a small synthetic W-TALC bundle with I3D-sized (2048-d) features (12 train / 12 test short, 4 classes,
videos, ~60 MB in memory) rather than the 1.1 GB ``full`` preset: the test exercises the paper-scale
*shapes* (every layer at full width, T=560 resampling, 2048-d loading), which the number of videos
does not change, and stays CI-cheap. The profile's precision (``train.amp=auto``) keeps the three
steps to seconds each on a 2-core CPU: bf16 autocast where the CPU has AMX or AVX512-BF16 (0.8 s
per step in `make bench`), float32 elsewhere (7.2 s on an AVX2 EPYC), where forced bf16 products
run about 400x slower than float32 (docs/performance.md).
"""

from __future__ import annotations

import json

import pytest
import torch

from himnet_lib.cli import main
from himnet_lib.datasets.synthetic.presets import SyntheticConfig
from himnet_lib.datasets.synthetic.writer import make_synthetic
from himnet_lib.utils.device import native_bf16

PAPER_SMOKE = SyntheticConfig(name="Synthetic-paper-smoke", num_classes=4, num_train=12, num_test=12,
                              feature_dim=2048, time_scale=0.15, duration_range=(9.0, 300.0),
                              nested=(0, 1), cooccur=(2, 3))


@pytest.mark.slow
def test_thumos14_profile_trains_localizes_and_evaluates_at_2048d(tmp_path):
    root = make_synthetic(PAPER_SMOKE, seed=0, out=tmp_path / "bundle")
    run = tmp_path / "run"
    rc = main(["train", "--data", str(root), "--profile", "thumos14", "--iterations", "3",
               "--threads", "2", "--out", str(run)])
    assert rc == 0
    params = json.loads((run / "params.json").read_text())
    cfg = params["config"]
    assert cfg["model"]["feature_dim"] == 2048 and cfg["train"]["seq_len"] == 560
    assert cfg["train"]["batch_size"] == 10 and cfg["train"]["iterations"] == 3
    # the record says what "auto" meant on this machine
    assert params["environment"]["dtype"] == ("bfloat16 autocast" if native_bf16(torch.device("cpu")) else "float32")
    m = json.loads((run / "metrics.json").read_text())
    assert 29_000_000 < m["num_params"] < 31_000_000
    assert len(m["mAP"]) == len(m["tiou"]) == 7
    assert all(0.0 <= v <= 1.0 for v in m["mAP"])
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 2 and history[0].startswith("iteration")
    preds = json.loads((run / "predictions.json").read_text())
    assert set(preds["results"]) == {f for f in preds["results"]} and len(preds["results"]) == 12
