"""Table 4's alternatives to L_SCL: the guide loss (HAM-Net/CO2-Net) and mutual learning (CO2-Net)."""

import pytest
import torch

from himnet_lib.modeling.losses.alternatives import guide_loss, ml_loss


def _inputs(B, T, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(B, T, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.rand(B, T, generator=g, dtype=torch.float64).requires_grad_()
    return a, b


def _ref_guide(a, b):
    B, T = a.shape
    return sum(sum(abs(1 - float(a[i, t]) - float(b[i, t])) for t in range(T)) / T for i in range(B)) / B


def _ref_ml(a, b):
    B, T = a.shape
    s1 = s2 = 0.0
    for i in range(B):
        for t in range(T):
            ai, fi = float(a[i, t]), 1 - float(b[i, t])
            s1 += (ai - fi) ** 2
            s2 += (fi - ai) ** 2
    return 0.5 * s1 / (B * T) + 0.5 * s2 / (B * T)


@pytest.mark.parametrize("B,T", [(1, 5), (3, 7), (4, 1), (2, 13)])
def test_guide_matches_loop(B, T):
    a, b = _inputs(B, T, B * 10 + T)
    assert guide_loss(a, b).item() == pytest.approx(_ref_guide(a.detach(), b.detach()), abs=1e-6)


@pytest.mark.parametrize("B,T", [(1, 5), (3, 7), (4, 1), (2, 13)])
def test_ml_matches_loop(B, T):
    a, b = _inputs(B, T, B * 10 + T + 1)
    assert ml_loss(a, b).item() == pytest.approx(_ref_ml(a.detach(), b.detach()), abs=1e-6)


def test_ml_stop_gradient_each_way():
    a, b = _inputs(3, 6, 9)
    ml_loss(a, b).backward()
    N = a.numel()
    diff = (a - (1 - b)).detach()
    # each side sees only its own half: d/da ½·mean((a - sg(1-b))²) = diff / N;
    # d/db ½·mean(((1-b) - sg(a))²) = diff / N as well (chain rule through 1-b)
    torch.testing.assert_close(a.grad, diff / N, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(b.grad, diff / N, rtol=1e-12, atol=1e-15)


def test_guide_and_ml_zero_when_consistent():
    a = torch.rand(2, 8)
    assert guide_loss(a, 1 - a).item() == pytest.approx(0.0, abs=1e-7)
    assert ml_loss(a, 1 - a).item() == pytest.approx(0.0, abs=1e-12)


def test_guide_gradient_reaches_both_branches():
    a, b = _inputs(2, 5, 4)
    guide_loss(a, b).backward()
    assert torch.all(a.grad != 0) and torch.all(b.grad != 0)
