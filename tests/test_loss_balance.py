"""loss.balance: the rule that keeps each term's printed balance against MIL when a reading changes
MIL's scale (and SCL's snippet sum when T differs), checked against hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.profiles import build_config
from himnet_lib.modeling.losses.compose import balanced_config, effective_weights, mil_scale_ratio
from himnet_lib.modeling.losses.mil import mil_loss


def test_mil_scale_ratio_by_hand():
    # C = 3 classes; videos with 1 and 2 labels. Printed Eq. 5 at the uniform prediction, per video
    # ((n+1) + n)/(C+1)·log 4: 3/4 and 5/4, mean 1; normalized: 2·log 4. Ratio 2.
    labels = np.array([[1, 0, 0], [1, 1, 0]], dtype=np.float32)
    assert mil_scale_ratio(labels) == pytest.approx(2.0)
    assert mil_scale_ratio(labels, target="paper") == 1.0
    # one label per video, C = 20: 2·21/3 = 14
    assert mil_scale_ratio(np.eye(20)[:5]) == pytest.approx(14.0)


def test_ratio_is_the_losses_ratio_at_the_uniform_prediction():
    labels = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1.0, 0, 0, 0], [0, 0, 1.0, 1, 1]])
    cas = torch.zeros(3, 7, 6)  # equal scores: softmax is uniform over the C+1 columns
    ratio = float(mil_loss(cas, cas, labels, 2, "normalized") / mil_loss(cas, cas, labels, 2, "paper"))
    assert mil_scale_ratio(labels.numpy()) == pytest.approx(ratio, rel=1e-6)


def test_effective_weights_printed_and_reading():
    labels = np.eye(20)[:5]                                  # r = 14 under the normalized target
    cfg = LossConfig(terms=("mil", "cll", "vcl", "scl", "guide"), mil_target="normalized",
                     lambda_cll=1.0, lambda_vcl=0.5, lambda_scl=0.01, lambda_guide=0.8)
    assert effective_weights(cfg, labels, 192) == {"mil": 1.0, "cll": 1.0, "vcl": 0.5, "scl": 0.01, "guide": 0.8}
    w = effective_weights(LossConfig(**{**cfg.__dict__, "balance": "reading"}), labels, 192)
    assert w["mil"] == 1.0 and w["guide"] == 0.8                        # unbalanced terms keep their λ
    assert w["cll"] == pytest.approx(14.0) and w["vcl"] == pytest.approx(7.0)
    assert w["scl"] == pytest.approx(0.01 * 14.0 * 560 / 192)           # MIL scale and T = 560 / 192
    # under the printed MIL only SCL's snippet sum moves
    lit = LossConfig(terms=("mil", "cll", "scl"), balance="reading", mil_target="paper")
    assert effective_weights(lit, labels, 560) == {"mil": 1.0, "cll": 1.0, "scl": 0.01}
    assert effective_weights(lit, labels, 280)["scl"] == pytest.approx(0.02)


def test_balanced_config_sets_the_weights_it_trains_with():
    labels = np.eye(20)[:5]
    cfg = LossConfig(balance="reading", mil_target="normalized")
    b = balanced_config(cfg, labels, 560)
    assert b.balance == "printed" and b.lambda_cll == pytest.approx(14.0) and b.lambda_scl == pytest.approx(0.14)
    assert balanced_config(LossConfig(), labels, 560) == LossConfig()
    with pytest.raises(ValueError, match="balance"):
        LossConfig(balance="auto")


@pytest.mark.parametrize("reading", ["literal", "lineage"])
def test_train_records_the_resolved_weights(tmp_path, smoke_root, reading):
    from himnet_lib.engine.train import train_run
    cfg = build_config("smoke", {"loss.balance": "reading", "train.iterations": 2}, reading=reading)
    train_run(cfg, smoke_root, tmp_path / "run", progress=False, log=lambda s: None)
    params = json.loads((tmp_path / "run" / "params.json").read_text())
    w = params["loss_weights"]
    from himnet_lib.datasets import load_dataset
    ds = load_dataset(smoke_root)
    y = np.stack([v.labels for v in ds.train_videos()])
    r = mil_scale_ratio(y, target=cfg.loss.mil_target)
    assert params["config"]["loss"]["balance"] == "reading"
    assert (r == 1.0) == (reading == "literal")
    assert w["loss.lambda_cll"] == pytest.approx(r) and w["loss.lambda_vcl"] == pytest.approx(r)
    assert w["loss.lambda_scl"] == pytest.approx(0.01 * r * 560 / cfg.train.seq_len)
    assert math.isfinite(json.loads((tmp_path / "run" / "metrics.json").read_text())["average_mAP"])
