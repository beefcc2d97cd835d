"""Eq. 1-2 (top-k video logits, k from a ratio) and Eq. 5 (L_CCE) against plain loops."""

import math

import pytest
import torch

from himnet_lib.config.sections import topk_k
from himnet_lib.modeling.losses.common import cce, topk_video_logits


@pytest.mark.parametrize("T,r,k", [(560, 7, 80), (60, 10, 6), (500, 7, 71), (320, 7, 45),
                                   (60, 5, 12), (6, 7, 1), (1, 7, 1), (7, 7, 1), (14, 7.0, 2)])
def test_topk_k_matches_paper_and_peers(T, r, k):
    assert topk_k(T, r) == k


def test_topk_k_rejects_nonpositive_ratio():
    with pytest.raises(ValueError):
        topk_k(10, 0)


def _ref_topk(cas, k):
    B, T, K = cas.shape
    kk = max(1, min(k, T))
    out = torch.empty(B, K, dtype=torch.float64)
    for b in range(B):
        for c in range(K):
            col = sorted((float(cas[b, t, c]) for t in range(T)), reverse=True)
            out[b, c] = sum(col[:kk]) / kk
    return out


@pytest.mark.parametrize("B,T,K,k", [(1, 5, 3, 2), (3, 7, 4, 10), (2, 13, 6, 3), (4, 1, 2, 1), (2, 9, 5, 9)])
def test_topk_video_logits_matches_loop(B, T, K, k):
    g = torch.Generator().manual_seed(B * 100 + T)
    cas = torch.randn(B, T, K, generator=g, dtype=torch.float64)
    got = topk_video_logits(cas, k)
    assert got.shape == (B, K)
    torch.testing.assert_close(got, _ref_topk(cas, k), rtol=0, atol=1e-6)


def test_topk_per_class_uses_its_own_snippets():
    # class 0 peaks at t=0, class 1 at t=2: each class must pick its own top-1 snippet
    cas = torch.tensor([[[5.0, 0.0], [0.0, 0.0], [0.0, 7.0]]])
    assert topk_video_logits(cas, 1).tolist() == [[5.0, 7.0]]


def test_topk_bf16_input_is_promoted():
    cas = torch.randn(2, 8, 3).to(torch.bfloat16)
    assert topk_video_logits(cas, 2).dtype == torch.float32


@pytest.mark.parametrize("shape", [(1, 4), (3, 21), (2, 5, 6)])
def test_cce_matches_loop(shape):
    g = torch.Generator().manual_seed(sum(shape))
    y = (torch.rand(*shape, generator=g) > 0.5).double()
    p = torch.softmax(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)
    got = cce(y, p)
    flat_y, flat_p = y.reshape(-1, shape[-1]), p.reshape(-1, shape[-1])
    ref = [sum(-float(flat_y[i, c]) * math.log(float(flat_p[i, c])) for c in range(shape[-1])) / shape[-1]
           for i in range(flat_y.shape[0])]
    torch.testing.assert_close(got.reshape(-1), torch.tensor(ref, dtype=torch.float64), rtol=0, atol=1e-6)


def test_cce_clamps_zero_probability():
    got = cce(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]))
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(-math.log(1e-6) / 2, rel=1e-5)
