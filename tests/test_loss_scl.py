"""Eq. 9-10 (uncertainty U and L_SCL) against a loop reference; gradient and range properties."""

import math

import pytest
import torch

from himnet_lib.modeling.losses.common import EPS
from himnet_lib.modeling.losses.scl import scl_loss, scl_terms, uncertainty


def _clamp(v):
    return min(max(v, EPS), 1 - EPS)


def _ref_u(p, q, alpha, kl, centre):
    if centre == "none":
        return 1.0
    p, q = _clamp(p), _clamp(q)
    if centre == "target":
        p, q = q, p
    div = p * math.log(p / q)
    if kl == "bernoulli":
        div += (1 - p) * math.log((1 - p) / (1 - q))
    return math.exp(-alpha * div)


def _ref_bce(p, q):
    p, q = _clamp(p), _clamp(q)
    return -(q * math.log(p) + (1 - q) * math.log(1 - p))


def _ref_scl(a, b, alpha, kl, centre):
    B, T = a.shape
    t1 = t2 = 0.0
    for i in range(B):
        for t in range(T):
            ai, bi = float(a[i, t]), float(b[i, t])
            t1 += _ref_u(bi, 1 - ai, alpha, kl, centre) * _ref_bce(bi, 1 - ai)
            t2 += _ref_u(ai, 1 - bi, alpha, kl, centre) * _ref_bce(ai, 1 - bi)
    return t1 / B, t2 / B


@pytest.mark.parametrize("kl,centre", [("bernoulli", "self"), ("paper", "self"), ("bernoulli", "target"),
                                       ("paper", "target"), ("bernoulli", "none")])
@pytest.mark.parametrize("B,T,alpha", [(1, 5, 4.0), (3, 7, 4.0), (4, 13, 0.5), (2, 1, 10.0)])
def test_scl_matches_loop(B, T, alpha, kl, centre):
    g = torch.Generator().manual_seed(B * 13 + T)
    a = torch.rand(B, T, generator=g, dtype=torch.float64)
    b = torch.rand(B, T, generator=g, dtype=torch.float64)
    a[0, 0], b[0, 0] = 1.0, 0.0  # exercise the clamp
    t1, t2 = scl_terms(a, b, alpha, kl, centre)
    r1, r2 = _ref_scl(a, b, alpha, kl, centre)
    assert t1.item() == pytest.approx(r1, abs=1e-6)
    assert t2.item() == pytest.approx(r2, abs=1e-6)
    assert scl_loss(a, b, alpha, kl, centre).item() == pytest.approx(r1 + r2, abs=1e-6)


def test_uncertainty_default_in_unit_interval():
    grid = torch.tensor([0.0, 1e-9, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1.0], dtype=torch.float64)
    p, q = torch.meshgrid(grid, grid, indexing="ij")
    for centre in ("self", "target"):
        u = uncertainty(p, q, alpha=4.0, centre=centre)
        assert torch.all(u > 0) and torch.all(u <= 1)
        assert torch.all(torch.diagonal(u) == 1)  # p == q: no divergence


def test_uncertainty_alpha_zero_is_exactly_one():
    g = torch.Generator().manual_seed(0)
    p, q = torch.rand(50, generator=g), torch.rand(50, generator=g)
    for kl in ("bernoulli", "paper"):
        for centre in ("self", "target", "none"):
            assert torch.all(uncertainty(p, q, alpha=0.0, kl=kl, centre=centre) == 1)


def test_uncertainty_paper_one_term_can_exceed_one():
    # p log(p/q) < 0 when p < q
    u = uncertainty(torch.tensor([0.2]), torch.tensor([0.8]), alpha=4.0, kl="paper")
    assert u.item() > 1
    assert uncertainty(torch.tensor([0.2]), torch.tensor([0.8]), alpha=4.0).item() < 1


def test_uncertainty_rejects_unknown_options():
    with pytest.raises(ValueError):
        uncertainty(torch.rand(3), torch.rand(3), centre="both")
    with pytest.raises(ValueError):
        uncertainty(torch.rand(3), torch.rand(3), kl="js")


def _leaves(seed=2, B=3, T=6):
    g = torch.Generator().manual_seed(seed)
    a = (0.05 + 0.9 * torch.rand(B, T, generator=g, dtype=torch.float64)).requires_grad_()
    b = (0.05 + 0.9 * torch.rand(B, T, generator=g, dtype=torch.float64)).requires_grad_()
    return a, b


def _dbce_dp(p, q):
    return -q / p + (1 - q) / (1 - p)


@pytest.mark.parametrize("u_grad", [False, True])
def test_pseudo_targets_carry_no_gradient(u_grad):
    a, b = _leaves()
    t1, _ = scl_terms(a, b, u_grad=u_grad)
    ga, gb = torch.autograd.grad(t1, (a, b), allow_unused=True)
    assert ga is None or torch.all(ga == 0)           # term (i): a is only the target
    assert gb.abs().sum() > 0
    a, b = _leaves()
    _, t2 = scl_terms(a, b, u_grad=u_grad)
    ga, gb = torch.autograd.grad(t2, (a, b), allow_unused=True)
    assert gb is None or torch.all(gb == 0)           # term (ii): b is only the target
    assert ga.abs().sum() > 0


def test_default_u_is_a_constant_weight():
    a, b = _leaves()
    B = a.shape[0]
    t1, t2 = scl_terms(a, b, alpha=4.0)
    gb = torch.autograd.grad(t1, b)[0]
    ga = torch.autograd.grad(t2, a)[0]
    a0, b0 = a.detach(), b.detach()
    # with U held constant: d/dp [U·BCE(p,q)] / B = U·dBCE/dp / B
    torch.testing.assert_close(gb, uncertainty(b0, 1 - a0) * _dbce_dp(b0, 1 - a0) / B, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(ga, uncertainty(a0, 1 - b0) * _dbce_dp(a0, 1 - b0) / B, rtol=1e-9, atol=1e-12)


def test_u_grad_lets_gradient_through_u():
    a, b = _leaves()
    g_const = torch.autograd.grad(scl_terms(a, b)[0], b)[0]
    g_flow = torch.autograd.grad(scl_terms(a, b, u_grad=True)[0], b)[0]
    assert not torch.allclose(g_const, g_flow)
    # same value, only the gradient differs
    assert scl_terms(a, b)[0].item() == pytest.approx(scl_terms(a, b, u_grad=True)[0].item(), abs=1e-12)


def test_scl_sums_over_snippets():
    a = torch.full((2, 10), 0.3, dtype=torch.float64)
    b = torch.full((2, 10), 0.6, dtype=torch.float64)
    one = scl_loss(a[:, :1], b[:, :1])
    assert scl_loss(a, b).item() == pytest.approx(10 * one.item(), rel=1e-12)


def test_scl_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        scl_loss(torch.rand(2, 5), torch.rand(2, 6))
