"""Eq. 7-8 (L_VCL, co-action similarity over all pairs sharing a class) against a loop reference."""

import math

import pytest
import torch

from himnet_lib.modeling.losses.vcl import vcl_loss


def _cos(u, v):
    dot = sum(a * b for a, b in zip(u, v))
    nu, nv = math.sqrt(sum(a * a for a in u)), math.sqrt(sum(b * b for b in v))
    # T = 1 makes V̄ the zero vector; the documented convention is cos(·, 0) = 0, i.e. d = 1
    return 0.0 if nu == 0 or nv == 0 else dot / (nu * nv)


def _ref_vcl(x, s, labels, margin):
    B, T, D = x.shape
    C = labels.shape[1]
    fg, bg = {}, {}
    for i in range(B):
        for c in range(C):
            col = [float(s[i, t, c]) for t in range(T)]
            m = max(col)
            e = [math.exp(v - m) for v in col]
            mu = [v / sum(e) for v in e]
            fg[i, c] = [sum(mu[t] * float(x[i, t, d]) for t in range(T)) for d in range(D)]
            bg[i, c] = [sum((1 - mu[t]) * float(x[i, t, d]) for t in range(T)) / max(T - 1, 1) for d in range(D)]
    terms = []
    for i in range(B):
        for j in range(i + 1, B):
            for c in range(C):
                if labels[i, c] * labels[j, c] != 1:
                    continue
                d_ij = 1 - _cos(fg[i, c], fg[j, c])
                d_ibj = 1 - _cos(fg[i, c], bg[j, c])
                d_jbi = 1 - _cos(fg[j, c], bg[i, c])
                terms.append(0.5 * max(0.0, d_ij - d_ibj + margin) + 0.5 * max(0.0, d_ij - d_jbi + margin))
    return sum(terms) / len(terms) if terms else 0.0, len(terms)


@pytest.mark.parametrize("margin", [0.5, 0.1])
@pytest.mark.parametrize("B,T,C,D", [(2, 5, 3, 4), (4, 7, 4, 6), (6, 1, 3, 3), (5, 13, 5, 8), (3, 2, 2, 5)])
def test_vcl_matches_loop(B, T, C, D, margin):
    g = torch.Generator().manual_seed(B * 31 + T * 7 + C)
    x = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    s = 3 * torch.randn(B, T, C + 1, generator=g, dtype=torch.float64)
    labels = (torch.rand(B, C, generator=g) > 0.4).double()
    labels[0, 0] = labels[1, 0] = 1.0  # at least one shared-class pair
    ref, n = _ref_vcl(x, s, labels, margin)
    assert n >= 1
    got = vcl_loss(x, s, labels, margin)
    assert got.item() == pytest.approx(ref, abs=1e-6)


def test_vcl_ignores_background_column():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 4, generator=g, dtype=torch.float64)
    s = torch.randn(3, 6, 3, generator=g, dtype=torch.float64)
    labels = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    s2 = s.clone()
    s2[..., -1] = 100 * torch.randn(3, 6, generator=g, dtype=torch.float64)
    assert vcl_loss(x, s, labels).item() == vcl_loss(x, s2, labels).item()


@pytest.mark.parametrize("labels", [
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],   # disjoint classes
    [[1.0, 1.0, 0.0]],                                     # B = 1: no pair at all
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],                    # unlabelled
])
def test_vcl_zero_without_shared_pairs_and_finite_grads(labels):
    labels = torch.tensor(labels)
    B = labels.shape[0]
    x = torch.randn(B, 5, 4, requires_grad=True)
    s = torch.randn(B, 5, 4, requires_grad=True)
    loss = vcl_loss(x, s, labels)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(x.grad == 0) and torch.all(s.grad == 0)


def test_vcl_zero_features_give_no_nan():
    x = torch.zeros(2, 4, 3, requires_grad=True)
    s = torch.randn(2, 4, 3, requires_grad=True)
    loss = vcl_loss(x, s, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and torch.isfinite(s.grad).all()


def test_vcl_gradient_reaches_features_and_cas():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, 6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    s = torch.randn(4, 6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0]], dtype=torch.float64)
    loss = vcl_loss(x, s, labels, margin=2.0)  # large margin: every hinge active
    loss.backward()
    assert loss.item() > 0
    assert x.grad.abs().sum() > 0 and s.grad[..., :2].abs().sum() > 0
    assert torch.all(s.grad[..., 2] == 0)  # background column never enters
