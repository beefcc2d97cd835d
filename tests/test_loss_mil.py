"""Eq. 4 (L_MIL, paper and normalised targets) against a loop reference, and its gradient path."""

import math

import pytest
import torch

from himnet_lib.config.sections import ModelConfig
from himnet_lib.modeling.himnet import build_model
from himnet_lib.modeling.losses.mil import mil_loss


def _video_probs(cas_b, k):
    T, K = cas_b.shape
    kk = max(1, min(k, T))
    gam = []
    for c in range(K):
        col = sorted((float(cas_b[t, c]) for t in range(T)), reverse=True)
        gam.append(sum(col[:kk]) / kk)
    z = sum(math.exp(v) for v in gam)
    return [math.exp(v) / z for v in gam]


def _ref_mil(cas, cas_supp, labels, k, target):
    B, T, K = cas.shape
    total = 0.0
    for b in range(B):
        y = [float(v) for v in labels[b]]
        for scores, beta in ((cas[b], 1.0), (cas_supp[b], 0.0)):
            p = _video_probs(scores, k)
            tgt = y + [beta]
            if target == "paper":
                total += sum(-tgt[c] * math.log(p[c]) for c in range(K)) / K
            else:
                s = sum(tgt)
                total += sum(-(tgt[c] / s) * math.log(p[c]) for c in range(K)) if s > 0 else 0.0
    return total / B


def _labels(B, C, g, multi=True):
    y = (torch.rand(B, C, generator=g) > (0.6 if multi else 2.0)).double()
    for b in range(B):
        if y[b].sum() == 0:
            y[b, int(torch.randint(C, (1,), generator=g))] = 1.0
    return y


@pytest.mark.parametrize("target", ["paper", "normalized"])
@pytest.mark.parametrize("B,T,C,k", [(1, 5, 3, 2), (3, 7, 4, 10), (4, 13, 6, 3), (2, 1, 2, 1), (5, 9, 5, 4)])
def test_mil_matches_loop(B, T, C, k, target):
    g = torch.Generator().manual_seed(7 * B + T)
    cas = 3 * torch.randn(B, T, C + 1, generator=g, dtype=torch.float64)
    att = torch.rand(B, T, 1, generator=g, dtype=torch.float64)
    labels = _labels(B, C, g)
    got = mil_loss(cas, cas * att, labels, k, target=target)
    assert got.shape == ()
    assert got.item() == pytest.approx(_ref_mil(cas, cas * att, labels, k, target), abs=1e-6)


def test_mil_all_zero_label_row_normalised_is_finite():
    cas = torch.randn(2, 6, 4, dtype=torch.float64)
    labels = torch.zeros(2, 3, dtype=torch.float64)
    got = mil_loss(cas, cas, labels, 2, target="normalized")
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(_ref_mil(cas, cas, labels, 2, "normalized"), abs=1e-6)


def test_mil_rejects_bad_shapes_and_target():
    cas = torch.randn(2, 6, 4)
    with pytest.raises(ValueError):
        mil_loss(cas, cas, torch.ones(2, 4), 2)
    with pytest.raises(ValueError):
        mil_loss(cas, cas, torch.ones(2, 3), 2, target="bce")


def test_mil_on_suppressed_cas_reaches_attention_branch():
    torch.manual_seed(0)
    model = build_model(ModelConfig(feature_dim=32, num_classes=4, attention_hidden=8, head_hidden=16))
    model.eval()  # no dropout: a deterministic, nonzero path
    out = model(torch.randn(3, 10, 32))
    labels = torch.tensor([[1.0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]])
    # only Ŝ enters; S is cut off, so any attention-head gradient must come through Ŝ = S·A
    mil_loss(out.cas.detach(), out.cas_supp, labels, 3).backward()
    for head in model.attention_heads:
        grads = [p.grad for p in head.parameters()]
        assert all(gr is not None for gr in grads)
        assert sum(gr.abs().sum().item() for gr in grads) > 0
