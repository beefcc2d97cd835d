"""Runs of two study rows with the same seed share their random streams (initial weights, batches,
dropout masks), which is what makes the claims table's paired differences valid."""

from __future__ import annotations

import numpy as np
import torch

from himnet_lib.config.run import resolve_config
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.sampling import CoActionSampler, make_batch
from himnet_lib.modeling.builder import build_variant
from himnet_lib.study import grids
from himnet_lib.utils.seeding import seed_everything


def _streams(spec, ds, steps: int = 4):
    cfg = resolve_config(spec.config(), feature_dim=ds.feature_dim, num_classes=ds.num_classes)
    data_rng = seed_everything(cfg.train.seed)
    model, _ = build_variant(cfg)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    videos = ds.train_videos()
    labels = np.stack([v.labels for v in videos]).astype(np.float32)
    sampler = CoActionSampler(labels, batch_size=cfg.train.batch_size, n_pairs=cfg.train.n_pairs, rng=data_rng)
    batches, outs = [], []
    model.train()
    for _ in range(steps):
        idx = sampler.sample()
        feats, _ = make_batch(videos, idx, cfg.train.seq_len, data_rng, mode=cfg.train.sampling)
        batches.append((idx.copy(), feats.copy()))
        with torch.no_grad():
            outs.append(model(torch.from_numpy(feats)).attention.clone())  # dropout is on: its masks count
    return weights, batches, outs


def test_same_seed_rows_share_weights_batches_and_dropout(smoke_root):
    ds = load_dataset(smoke_root)
    specs = {s.label: s for s in grids.table3_specs("smoke", 2) if s.seed == 1}
    ref = _streams(specs["Exp 1"], ds)
    for label in ("Exp 2", "Exp 4", "Exp 8"):
        got = _streams(specs[label], ds)
        assert ref[0].keys() == got[0].keys()
        assert all(torch.equal(ref[0][k], got[0][k]) for k in ref[0]), label
        for (i0, f0), (i1, f1) in zip(ref[1], got[1]):
            assert np.array_equal(i0, i1) and np.array_equal(f0, f1), label
        assert all(torch.equal(a, b) for a, b in zip(ref[2], got[2])), label


def test_other_seed_differs(smoke_root):
    ds = load_dataset(smoke_root)
    s0, s1 = [s for s in grids.table3_specs("smoke", 2) if s.label == "Exp 1"]
    w0, b0, _ = _streams(s0, ds, 1)
    w1, b1, _ = _streams(s1, ds, 1)
    assert not all(torch.equal(w0[k], w1[k]) for k in w0)
    assert not np.array_equal(b0[0][1], b1[0][1])
