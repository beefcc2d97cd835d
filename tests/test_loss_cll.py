"""Eq. 6 (L_CLL, snippet-level complementary labels) against a loop reference; gradient and zero cases."""

import math

import pytest
import torch

from himnet_lib.modeling.losses.cll import cll_loss


def _ref_cll(probs, labels):
    B, T, K = probs.shape
    total = 0.0
    for b in range(B):
        comp = [1.0 - float(v) for v in labels[b]] + [0.0]  # 1 - Ȳ, background entry 0
        per_t = 0.0
        for t in range(T):
            per_t += sum(-comp[c] * math.log(1.0 - float(probs[b, t, c])) for c in range(K)) / K
        total += per_t / T
    return total / B


@pytest.mark.parametrize("B,T,C", [(1, 5, 3), (3, 7, 4), (4, 13, 6), (2, 1, 2), (5, 9, 20)])
def test_cll_matches_loop(B, T, C):
    g = torch.Generator().manual_seed(B + 10 * T + C)
    probs = torch.softmax(2 * torch.randn(B, T, C + 1, generator=g, dtype=torch.float64), dim=-1)
    labels = (torch.rand(B, C, generator=g) > 0.5).double()  # multi-label and possibly empty rows
    got = cll_loss(probs, labels)
    assert got.item() == pytest.approx(_ref_cll(probs, labels), abs=1e-6)


def test_cll_gradient_only_through_negative_classes():
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn(2, 6, 5, generator=g, dtype=torch.float64), dim=-1).requires_grad_()
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.float64)
    cll_loss(probs, labels).backward()
    grad = probs.grad
    neg = torch.cat([labels == 0, torch.zeros(2, 1, dtype=torch.bool)], dim=1)  # (B,C+1)
    neg = neg.unsqueeze(1).expand_as(grad)
    assert torch.all(grad[~neg] == 0)          # labelled classes and background: exactly zero
    assert torch.all(grad[neg] > 0)            # -log(1-b)/(K·T·B) rises with b
    # analytic: d/db [-log(1-b)] / (K T B) = 1 / ((1-b) K T B)
    B, T, K = probs.shape
    torch.testing.assert_close(grad[neg], (1 / ((1 - probs.detach()[neg]) * K * T * B)), rtol=1e-9, atol=0)


def test_cll_zero_when_negative_classes_have_zero_probability():
    g = torch.Generator().manual_seed(4)
    labels = torch.tensor([[1.0, 0, 0], [0, 1, 1]])
    logits = torch.randn(2, 8, 4, generator=g)
    mask = torch.cat([labels, torch.ones(2, 1)], dim=1).bool().unsqueeze(1)  # allowed: labelled + bg
    probs = torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)
    assert torch.all(probs[~mask.expand_as(probs)] == 0)
    assert cll_loss(probs, labels).item() == 0.0


def test_cll_clamps_certain_negative():
    probs = torch.tensor([[[0.0, 1.0, 0.0]]])  # negative class 1 certain -> log(0) without the clamp
    got = cll_loss(probs, torch.tensor([[1.0, 0.0]]))
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(-math.log(1e-6) / 3, rel=1e-4)
