"""HAM-Net baseline: network shapes, the hybrid (soft / semi-soft / hard) attention with the
include-min threshold, each loss term (BCL, HAL, SAL, SSAL, sparsity, guide) against loops written
from the formulas, the CLL/SCL switches, and smoke training runs from the command line."""

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
from himnet_lib.modeling.baselines.hamnet import HAMNet, compose_hamnet, hybrid_attention
from himnet_lib.modeling.himnet import ModelOutput
from himnet_lib.utils.errors import DataError, HimnetError

SMALL = dict(feature_dim=12, num_classes=4, attention_hidden=6, head_hidden=10)
EPS = 1e-6


def _model(seed: int = 0) -> HAMNet:
    torch.manual_seed(seed)
    return HAMNet(ModelConfig(**SMALL))


@pytest.mark.parametrize("B,T", [(1, 1), (2, 9), (3, 16)])
def test_output_shapes_and_identities(B, T):
    model = _model().eval()
    x = torch.randn(B, T, 12)
    out = model(x)
    assert out.attention.shape == (B, T) and torch.all((out.attention > 0) & (out.attention < 1))
    assert out.cas.shape == out.cas_supp.shape == out.probs.shape == (B, T, 5)
    assert torch.equal(out.features, x)
    assert torch.equal(out.cas_supp, out.cas * out.attention.unsqueeze(-1))
    torch.testing.assert_close(out.probs, torch.softmax(out.cas, -1))


def test_layers_and_dropout():
    model = _model()
    convs = [m for m in model.classifier.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [(12, 10, 3), (10, 10, 3), (10, 5, 1)]
    aconvs = [m for m in model.attention.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in aconvs] == [(12, 6, 3), (6, 6, 3), (6, 1, 1)]
    x = torch.randn(2, 9, 12)
    model.train()
    a, b = model(x), model(x)
    assert torch.equal(a.attention, b.attention)  # HAM-Net's attention branch has no dropout
    assert not torch.equal(a.cas, b.cas)          # the classifier does (0.7)
    with pytest.raises(DataError):
        model(torch.randn(2, 5, 11))


def test_hybrid_attention_uses_the_include_min_threshold():
    a = torch.tensor([[0.50, 0.60, 0.90, 0.55, 0.57],
                      [0.10, 0.20, 0.30, 0.40, 0.50]])
    semi, hard = hybrid_attention(a, 0.2)
    # row 0: thr = 0.5 + 0.2·0.4 = 0.58 (without the min: 0.08, which would keep nothing)
    # row 1: thr = 0.1 + 0.2·0.4 = 0.18
    assert hard.tolist() == [[1, 0, 0, 1, 1], [1, 0, 0, 0, 0]]
    torch.testing.assert_close(semi, a * hard)
    semi, hard = hybrid_attention(torch.full((1, 4), 0.3), 0.2)  # flat attention: thr = min, nothing kept
    assert hard.sum() == 0 and semi.sum() == 0


# --- loop references ---------------------------------------------------------------------------

def _mil_ref(cas, weights, labels, k, beta, include_min=False):
    """-Σ_c ỹ_c log softmax(top-k mean over t of weights[b,t]·cas[b,t,c])_c, ỹ = [y,β]/Σ, batch mean.
    include_min: the weighted CAS is w·(s - m) + m with m = min over the classes of snippet t."""
    B, T, K = cas.shape
    total = 0.0

    def weighted(b, t, c):
        s = float(cas[b, t, c])
        if not include_min:
            return weights[b][t] * s
        m = min(float(cas[b, t, j]) for j in range(K))
        return weights[b][t] * (s - m) + m

    for b in range(B):
        v = []
        for c in range(K):
            col = sorted((weighted(b, t, c) for t in range(T)), reverse=True)
            v.append(sum(col[:k]) / k)
        m = max(v)
        logz = m + math.log(sum(math.exp(x - m) for x in v))
        target = [float(labels[b, c]) for c in range(K - 1)] + [beta]
        s = sum(target)
        total += -sum((target[c] / s) * (v[c] - logz) for c in range(K)) if s > 0 else 0.0
    return total / B


def _scl_ref(a, bg, alpha):
    def clamp(p):
        return min(max(p, EPS), 1 - EPS)

    def one(p, q):
        kl = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
        return math.exp(-alpha * kl) * -(q * math.log(p) + (1 - q) * math.log(1 - p))

    B, T = a.shape
    return sum(one(clamp(float(bg[b, t])), clamp(1 - float(a[b, t])))
               + one(clamp(float(a[b, t])), clamp(1 - float(bg[b, t]))) for b in range(B) for t in range(T)) / B


@pytest.mark.parametrize("terms", [("mil",), ("mil", "cll"), ("mil", "scl")])
def test_loss_terms_match_loop_references(terms):
    torch.manual_seed(3)
    B, T = 3, 20
    model = _model().train()
    out = model(torch.randn(B, T, 12))
    labels = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=torch.float32)
    lcfg = LossConfig(terms=terms)
    total, got = compose_hamnet(out, labels, lcfg, settings=BaselineConfig())
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    total, got = total.detach(), {n: v.detach() for n, v in got.items()}
    out = ModelOutput(*(t.detach() if torch.is_tensor(t) else t for t in vars(out).values()))

    a = [[float(out.attention[b, t]) for t in range(T)] for b in range(B)]
    hard = []
    for row in a:
        thr = min(row) + 0.2 * (max(row) - min(row))
        hard.append([1.0 if x < thr else 0.0 for x in row])
    ones = [[1.0] * T for _ in range(B)]
    semi = [[a[b][t] * hard[b][t] for t in range(T)] for b in range(B)]
    k = T // 10
    # HAM-Net's code: include-min for the hard (HAL) and semi-soft (SSAL) drops, plain product for SAL
    ref = {"bcl": _mil_ref(out.cas, ones, labels, k, 1.0),
           "hal": _mil_ref(out.cas, hard, labels, k, 1.0, include_min=True),
           "sal": _mil_ref(out.cas, a, labels, k, 0.0),
           "ssal": _mil_ref(out.cas, semi, labels, k, 0.0, include_min=True),
           "norm": sum(map(sum, a)) / (B * T),
           "guide": sum(abs(1 - a[b][t] - float(out.probs[b, t, -1])) for b in range(B) for t in range(T)) / (B * T)}
    for name, value in ref.items():
        assert float(got[name]) == pytest.approx(value, rel=1e-5, abs=1e-7), name
    loss_1 = 0.2 * ref["hal"] + 0.8 * ref["bcl"]
    loss_2 = 0.2 * ref["ssal"] + 0.8 * ref["sal"]
    assert float(got["loss_1"]) == pytest.approx(loss_1, rel=1e-5)
    assert float(got["loss_2"]) == pytest.approx(loss_2, rel=1e-5)
    want = loss_1 + loss_2 + 0.8 * ref["norm"] + 0.8 * ref["guide"]
    assert float(got["mil"]) == pytest.approx(want, rel=1e-5)
    if "cll" in terms:
        K = 5
        cll = sum(-math.log(max(1 - float(out.probs[b, t, c]), EPS)) / K for b in range(B) for t in range(T)
                  for c in range(K - 1) if labels[b, c] == 0) / (B * T)
        assert float(got["cll"]) == pytest.approx(cll, rel=1e-5)
        want += cll
    if "scl" in terms:
        scl = _scl_ref(out.attention, out.probs[..., -1], lcfg.alpha)
        assert float(got["scl"]) == pytest.approx(scl, rel=1e-4)
        want += 0.01 * scl
    assert float(total) == pytest.approx(want, rel=1e-5)


def test_settings_change_the_objective():
    torch.manual_seed(4)
    with torch.no_grad():
        out = _model().eval()(torch.randn(2, 30, 12))
    labels = torch.tensor([[1, 0, 0, 0], [0, 0, 1, 0]], dtype=torch.float32)
    s = BaselineConfig(hamnet_topk_ratio=5.0, hamnet_drop_weight=0.5, hamnet_lambda_1=0.25, hamnet_lambda_2=2.0,
                       hamnet_lambda_norm=0.5, hamnet_lambda_guide=0.1)
    _, t = compose_hamnet(out, labels, LossConfig(terms=("mil",)), settings=s)
    ones = [[1.0] * 30] * 2
    assert float(t["bcl"]) == pytest.approx(_mil_ref(out.cas, ones, labels, 6, 1.0), rel=1e-5)
    want = 0.25 * (0.5 * t["hal"] + 0.5 * t["bcl"]) + 2.0 * (0.5 * t["ssal"] + 0.5 * t["sal"]) \
        + 0.5 * t["norm"] + 0.1 * t["guide"]
    assert float(t["mil"]) == pytest.approx(float(want), rel=1e-6)
    # SCL in place of the guide loss, when asked
    swap = BaselineConfig(hamnet_scl_replaces_guide=True)
    total, t = compose_hamnet(out, labels, LossConfig(terms=("mil", "scl")), settings=swap)
    no_guide = t["loss_1"] + t["loss_2"] + 0.8 * t["norm"]
    assert float(total) == pytest.approx(float(no_guide + 0.01 * t["scl"]), rel=1e-6)


def test_build_from_run_config_and_refuses_unknown_terms():
    cfg = build_config("smoke", {"train.model": "hamnet", "loss.terms": ["mil", "scl"],
                                 "baseline.hamnet_drop_weight": 0.5})
    cfg.model = ModelConfig(**SMALL)
    model, compose = build("hamnet", cfg)
    assert isinstance(model, HAMNet) and compose.keywords["settings"].hamnet_drop_weight == 0.5
    with pytest.raises(HimnetError, match="hamnet"):
        build("hamnet", build_config("smoke", {"loss.terms": ["mil", "guide"]}))
    with pytest.raises(HimnetError):
        build_config("smoke", {"baseline.hamnet_drop_weight": 1.5})


# --- smoke training from the command line -------------------------------------------------------

def test_smoke_training_runs_from_the_command_line(smoke_root, tmp_path, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    for losses, extra in (("mil", []), ("mil,cll", ["--iterations", "8"]), ("mil,scl", ["--iterations", "8"])):
        run = tmp_path / losses.replace(",", "-")
        assert main(["train", "--profile", "smoke", "--model", "hamnet", "--losses", losses, *extra,
                     "--data", str(smoke_root), "--out", str(run), "--threads", "1"]) == 0
        params = json.loads((run / "params.json").read_text())["config"]
        assert params["train"]["model"] == "hamnet" and params["loss"]["terms"] == losses.split(",")
        assert params["baseline"]["hamnet_topk_ratio"] == 10.0
        m = json.loads((run / "metrics.json").read_text())
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in [*m["mAP"], m["average_mAP"], m["snippet_acc"]])
        header = (run / "history.csv").read_text().splitlines()[0].split(",")
        assert {"loss", "mil", "bcl", "hal", "sal", "ssal", "norm", "guide", *losses.split(",")} <= set(header)
