"""BaS-Net baseline: network shapes and branch wiring, each loss term against loops written from
the formulas (BCE on the softmax of the top-k mean with label-normalised targets, L1 of w), the
CLL/SCL switches, and smoke training runs from the command line."""

from __future__ import annotations

import json
import math

import pytest
import torch

from himnet_lib.cli import main
from himnet_lib.config.loss import LossConfig
from himnet_lib.config.profiles import build_config
from himnet_lib.config.sections import BaselineConfig, ModelConfig
from himnet_lib.modeling.baselines import build
from himnet_lib.modeling.baselines.basnet import BaSNet, compose_basnet
from himnet_lib.utils.errors import DataError, HimnetError

SMALL = dict(feature_dim=12, num_classes=4, attention_hidden=6, head_hidden=10)
EPS = 1e-6


def _model(seed: int = 0) -> BaSNet:
    torch.manual_seed(seed)
    return BaSNet(ModelConfig(**SMALL))


@pytest.mark.parametrize("B,T", [(1, 1), (2, 9), (3, 16)])
def test_output_shapes_and_branches(B, T):
    model = _model().eval()
    x = torch.randn(B, T, 12)
    out = model(x)
    assert out.attention.shape == (B, T) and torch.all((out.attention > 0) & (out.attention < 1))
    assert out.cas.shape == out.cas_supp.shape == out.probs.shape == (B, T, 5)
    assert torch.equal(out.features, x) and len(out.attention_parts) == 1
    torch.testing.assert_close(out.probs, torch.softmax(out.cas, -1))
    # one CAS module, shared: base branch on X, suppressed branch on X·w (not S·w)
    xc = x.transpose(1, 2)
    torch.testing.assert_close(out.cas, model.cas_module(xc).transpose(1, 2))
    torch.testing.assert_close(out.cas_supp, model.cas_module(xc * out.attention.unsqueeze(1)).transpose(1, 2))
    if T > 1:  # (with one snippet and zero biases the two coincide: LReLU is positively homogeneous)
        assert not torch.allclose(out.cas_supp, out.cas * out.attention.unsqueeze(-1))


def test_layer_widths_follow_model_config():
    model = _model()
    convs = [m for m in model.cas_module.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [(12, 10, 3), (10, 10, 3), (10, 5, 1)]
    assert convs[-1].bias is None  # BaS-Net's classifier has no bias
    fconvs = [m for m in model.filter.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in fconvs] == [(12, 6, 1), (6, 1, 1)]
    with pytest.raises(DataError):
        model(torch.randn(2, 5, 11))


# --- loop references ---------------------------------------------------------------------------

def _topk_mean(cas, b, c, k):
    return sum(sorted((float(cas[b, t, c]) for t in range(cas.shape[1])), reverse=True)[:k]) / k


def _bce_softmax_ref(cas, labels, k, beta):
    B, _, K = cas.shape
    total = 0.0
    for b in range(B):
        v = [_topk_mean(cas, b, c, k) for c in range(K)]
        z = sum(math.exp(x) for x in v)
        target = [float(labels[b, c]) for c in range(K - 1)] + [beta]
        s = sum(target)
        for c in range(K):
            p = min(max(math.exp(v[c]) / z, EPS), 1 - EPS)
            y = target[c] / s if s > 0 else 0.0
            total += -(y * math.log(p) + (1 - y) * math.log(1 - p))
    return total / (B * K)


def _cll_ref(probs, labels):
    B, T, K = probs.shape
    return sum(-math.log(max(1 - float(probs[b, t, c]), EPS)) / K
               for b in range(B) for t in range(T) for c in range(K - 1) if labels[b, c] == 0) / (B * T)


def _scl_ref(a, bg, alpha):
    def clamp(p):
        return min(max(p, EPS), 1 - EPS)

    def one(p, q):
        kl = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
        return math.exp(-alpha * kl) * -(q * math.log(p) + (1 - q) * math.log(1 - p))

    B, T = a.shape
    return sum(one(clamp(float(bg[b, t])), clamp(1 - float(a[b, t])))
               + one(clamp(float(a[b, t])), clamp(1 - float(bg[b, t]))) for b in range(B) for t in range(T)) / B


@pytest.mark.parametrize("terms", [("mil",), ("mil", "cll"), ("mil", "cll", "scl")])
def test_loss_terms_match_loop_references(terms):
    torch.manual_seed(1)
    B, T = 3, 16
    model = _model().train()
    out = model(torch.randn(B, T, 12))
    labels = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=torch.float32)  # incl. all-zero row
    settings = BaselineConfig()
    lcfg = LossConfig(terms=terms)
    total, got = compose_basnet(out, labels, lcfg, settings=settings)
    total.backward()  # every parameter of both modules receives a gradient
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    total, got = total.detach(), {n: v.detach() for n, v in got.items()}
    out = type(out)(*(t.detach() if torch.is_tensor(t) else t for t in vars(out).values()))
    k = T // 8
    base = _bce_softmax_ref(out.cas, labels, k, 1.0)
    supp = _bce_softmax_ref(out.cas_supp, labels, k, 0.0)
    l1 = sum(abs(float(out.attention[b, t])) for b in range(B) for t in range(T)) / B
    assert float(got["bce_base"]) == pytest.approx(base, rel=1e-5)
    assert float(got["bce_supp"]) == pytest.approx(supp, rel=1e-5)
    assert float(got["l1"]) == pytest.approx(l1, rel=1e-5)
    want = base + supp + 1e-4 * l1
    assert float(got["mil"]) == pytest.approx(want, rel=1e-5)
    if "cll" in terms:
        cll = _cll_ref(out.probs, labels)
        assert float(got["cll"]) == pytest.approx(cll, rel=1e-5)
        want += cll
    if "scl" in terms:
        scl = _scl_ref(out.attention, out.probs[..., -1], lcfg.alpha)
        assert float(got["scl"]) == pytest.approx(scl, rel=1e-4)
        want += 0.01 * scl
    assert set(got) == {"mil", "bce_base", "bce_supp", "l1", *terms}
    assert float(total) == pytest.approx(want, rel=1e-5)


def test_topk_ratio_and_l1_weight_are_settings():
    torch.manual_seed(2)
    with torch.no_grad():
        out = _model().eval()(torch.randn(2, 24, 12))
    labels = torch.tensor([[1, 0, 0, 0], [0, 0, 1, 0]], dtype=torch.float32)
    s = BaselineConfig(basnet_topk_ratio=4.0, basnet_lambda_l1=0.5)
    _, got = compose_basnet(out, labels, LossConfig(terms=("mil",)), settings=s)
    assert float(got["bce_base"]) == pytest.approx(_bce_softmax_ref(out.cas, labels, 6, 1.0), rel=1e-5)
    assert float(got["mil"]) == pytest.approx(float(got["bce_base"] + got["bce_supp"] + 0.5 * got["l1"]), rel=1e-6)


def test_build_from_run_config_and_refuses_unknown_terms():
    cfg = build_config("smoke", {"train.model": "basnet", "loss.terms": ["mil", "cll"],
                                 "baseline.basnet_lambda_l1": 1e-3})
    cfg.model = ModelConfig(**SMALL)
    model, compose = build("basnet", cfg)
    assert isinstance(model, BaSNet) and compose.keywords["settings"].basnet_lambda_l1 == 1e-3
    bad = build_config("smoke", {"train.model": "basnet", "loss.terms": ["mil", "vcl"]})
    with pytest.raises(HimnetError, match="basnet"):
        build("basnet", bad)


# --- smoke training from the command line -------------------------------------------------------

def test_smoke_training_runs_from_the_command_line(smoke_root, tmp_path, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    for losses, extra in (("mil", []), ("mil,cll,scl", ["--iterations", "8"])):
        run = tmp_path / losses.replace(",", "-")
        assert main(["train", "--profile", "smoke", "--model", "basnet", "--losses", losses, *extra,
                     "--data", str(smoke_root), "--out", str(run), "--threads", "1"]) == 0
        params = json.loads((run / "params.json").read_text())["config"]
        assert params["train"]["model"] == "basnet" and params["loss"]["terms"] == losses.split(",")
        assert params["baseline"]["basnet_topk_ratio"] == 8.0
        m = json.loads((run / "metrics.json").read_text())
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in [*m["mAP"], m["average_mAP"], m["snippet_acc"]])
        header = (run / "history.csv").read_text().splitlines()[0].split(",")
        assert {"loss", "mil", "bce_base", "bce_supp", "l1", *losses.split(",")} <= set(header)
