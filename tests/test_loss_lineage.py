"""The lineage terms (CO2-Net's attention norm and modality mutual learning), the include-min Ŝ,
L_CLL's weight and the printed reading of Eq. 10's first uncertainty, each against a hand-written
loop formula."""

from __future__ import annotations

import math

import pytest
import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import ModelConfig
from himnet_lib.modeling.himnet import ModelOutput, build_model, suppress
from himnet_lib.modeling.losses.compose import compose_losses
from himnet_lib.modeling.losses.lineage import modality_mutual_loss, norm_loss
from himnet_lib.modeling.losses.scl import scl_loss, scl_terms


def test_include_min_suppression_matches_loop():
    torch.manual_seed(0)
    cas = torch.randn(2, 5, 4)
    w = torch.rand(2, 5)
    got = suppress(cas, w, "include_min")
    for b in range(2):
        for t in range(5):
            m = min(float(cas[b, t, j]) for j in range(4))
            for c in range(4):
                want = float(w[b, t]) * (float(cas[b, t, c]) - m) + m
                assert float(got[b, t, c]) == pytest.approx(want, abs=1e-6)
    torch.testing.assert_close(suppress(cas, w, "product"), cas * w.unsqueeze(-1))
    # a fully suppressed snippet goes to its lowest class logit, not to 0
    assert float(suppress(cas, torch.zeros(2, 5), "include_min")[0, 0, 0]) == pytest.approx(float(cas[0, 0].min()))
    with pytest.raises(ValueError):
        suppress(cas, w, "other")


def test_model_uses_include_min_only_in_training():
    cfg = ModelConfig(feature_dim=8, num_classes=3, attention_hidden=4, head_hidden=6, supp="include_min")
    model = build_model(cfg)
    x = torch.randn(2, 7, 8)
    model.eval()
    out = model(x)
    torch.testing.assert_close(out.cas_supp, out.cas * out.attention.unsqueeze(-1))   # inference: product
    model.train()
    torch.manual_seed(1)
    out = model(x)
    torch.testing.assert_close(out.cas_supp, suppress(out.cas, out.attention, "include_min"))
    with pytest.raises(ValueError):
        ModelConfig(supp="bad")


def test_norm_and_mutual_losses_match_loops():
    torch.manual_seed(2)
    r, f = torch.rand(3, 6), torch.rand(3, 6)
    a = (r + f) / 2
    mean = lambda x: sum(float(v) for v in x.flatten()) / x.numel()  # noqa: E731
    assert float(norm_loss((a, r, f))) == pytest.approx((mean(a) + mean(r) + mean(f)) / 3, abs=1e-7)
    sq = lambda x, y: sum((float(p) - float(q)) ** 2 for p, q in zip(x.flatten(), y.flatten())) / x.numel()  # noqa: E731
    assert float(modality_mutual_loss((r, f))) == pytest.approx(0.5 * sq(r, f) + 0.5 * sq(f, r), abs=1e-7)
    assert float(modality_mutual_loss((a,))) == 0.0
    # stop-gradient: each half pulls only its own attention
    r.requires_grad_(True)
    modality_mutual_loss((r, f.detach())).backward()
    torch.testing.assert_close(r.grad, 0.5 * 2 * (r - f).detach() / r.numel())


def test_scl_first_uncertainty_printed_reading():
    torch.manual_seed(3)
    a, b = torch.rand(2, 4) * 0.9 + 0.05, torch.rand(2, 4) * 0.9 + 0.05
    alpha = 4.0

    def kl(p, q):
        return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))

    def bce(p, q):
        return -(q * math.log(p) + (1 - q) * math.log(1 - p))

    first_printed = sum(math.exp(-alpha * kl(1 - float(a[i, t]), float(b[i, t])))
                        * bce(float(b[i, t]), 1 - float(a[i, t])) for i in range(2) for t in range(4)) / 2
    first_swapped = sum(math.exp(-alpha * kl(float(b[i, t]), 1 - float(a[i, t])))
                        * bce(float(b[i, t]), 1 - float(a[i, t])) for i in range(2) for t in range(4)) / 2
    t1p, t2p = scl_terms(a, b, alpha, first_u="printed")
    t1s, t2s = scl_terms(a, b, alpha, first_u="swapped")
    assert float(t1p) == pytest.approx(first_printed, rel=1e-5)
    assert float(t1s) == pytest.approx(first_swapped, rel=1e-5)
    torch.testing.assert_close(t2p, t2s)     # the second term is the same in both readings
    assert abs(first_printed - first_swapped) > 1e-4
    assert float(scl_loss(a, b, alpha, first_u="printed")) == pytest.approx(first_printed + float(t2p), rel=1e-5)
    with pytest.raises(ValueError):
        scl_terms(a, b, first_u="other")


def _output(B=2, T=6, C=3, seed=4):
    torch.manual_seed(seed)
    cas = torch.randn(B, T, C + 1)
    parts = (torch.rand(B, T), torch.rand(B, T))
    att = (parts[0] + parts[1]) / 2
    return ModelOutput(attention=att, cas=cas, cas_supp=cas * att.unsqueeze(-1), probs=torch.softmax(cas, -1),
                       features=torch.randn(B, T, 5), attention_parts=parts)


def test_compose_weights_lineage_terms_and_cll():
    out = _output()
    labels = torch.tensor([[1.0, 0, 0], [0, 1, 1]])
    base, t0 = compose_losses(out, labels, LossConfig(terms=("mil", "cll")))
    cfg = LossConfig(terms=("mil", "cll"), extra_terms=("norm", "mu"), lambda_cll=0.5, lambda_norm=0.8, lambda_mu=2.0)
    total, terms = compose_losses(out, labels, cfg)
    assert set(terms) == {"mil", "cll", "norm", "mu"}
    want = float(t0["mil"]) + 0.5 * float(t0["cll"]) + 0.8 * float(terms["norm"]) + 2.0 * float(terms["mu"])
    assert float(total) == pytest.approx(want, rel=1e-6)
    # "norm" in terms directly (--losses mil,norm) works too, and duplicates are not counted twice
    total2, terms2 = compose_losses(out, labels, LossConfig(terms=("mil", "norm"), extra_terms=("norm",)))
    assert list(terms2) == ["mil", "norm"]
    assert float(total2) == pytest.approx(float(t0["mil"]) + 0.8 * float(terms2["norm"]), rel=1e-6)
    with pytest.raises(ValueError):
        LossConfig(extra_terms=("bogus",))
