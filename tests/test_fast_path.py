"""The fast model path (ModelConfig.impl="fast", himnet_lib.modeling.fast_path) computes the reference function.

Tolerances (float32): eval-mode outputs agree to atol 2e-5 / rtol 1e-4 (the products are summed in
another order: unfolded matmul vs Conv1d); parameter gradients with dropout off to 1e-4 of the
largest gradient of that tensor; 5 Adam steps with dropout off give losses within rtol 1e-4 and
parameters within atol 1e-5. Under bf16 autocast the two paths agree to atol 0.05 on probabilities.
Dropout keep rates lie within 5 standard errors of 1 - p. No timing assertions here.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import ModelConfig
from himnet_lib.modeling import fast_path
from himnet_lib.modeling.fast_path import draw_keep_masks, keep_threshold
from himnet_lib.modeling.himnet import build_model
from himnet_lib.modeling.losses.compose import compose_losses

NO_DROPOUT = dict(ccm_dropout=0.0, attention_dropout=0.0, dropout=0.0)


def _pair(**kw):
    cfg = ModelConfig(feature_dim=32, num_classes=5, attention_hidden=8, head_hidden=16,
                      impl="reference", **kw)
    torch.manual_seed(0)
    ref = build_model(cfg)
    fast = build_model(dataclasses.replace(cfg, impl="fast"))
    fast.load_state_dict(ref.state_dict())
    return ref, fast


def _labels(B: int, C: int) -> torch.Tensor:
    y = torch.zeros(B, C)
    y[torch.arange(B), torch.arange(B) % C] = 1.0
    return y


def test_impl_default_and_validation():
    assert ModelConfig().impl == "fast"
    with pytest.raises(ValueError, match="impl"):
        ModelConfig(impl="turbo")


def test_same_state_dict_keys_and_shapes():
    ref, fast = _pair()
    a, b = ref.state_dict(), fast.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)


@pytest.mark.parametrize("fusion", ["ccm", "conv"])
@pytest.mark.parametrize("attention", ["modality", "joint"])
@pytest.mark.parametrize("T", [1, 2, 13])
def test_eval_outputs_match_reference(fusion, attention, T):
    ref, fast = _pair(fusion=fusion, attention=attention, head_input_dropout=0.7,
                      attention_logit_dropout=0.5)
    ref.eval(), fast.eval()
    x = torch.randn(3, T, 32)
    with torch.no_grad():
        a, b = ref(x), fast(x)
    for name in ("attention", "cas", "cas_supp", "probs", "features"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert ta.shape == tb.shape and ta.dtype == tb.dtype, name
        torch.testing.assert_close(tb, ta, atol=2e-5, rtol=1e-4, msg=name)
    assert len(a.attention_parts) == len(b.attention_parts)
    for pa, pb in zip(a.attention_parts, b.attention_parts):
        torch.testing.assert_close(pb, pa, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("wgrad_transpose", [False, True])
@pytest.mark.parametrize("fusion,attention", [("ccm", "modality"), ("conv", "joint")])
def test_gradients_match_without_dropout(fusion, attention, wgrad_transpose, monkeypatch):
    if wgrad_transpose:  # every product takes the paper-scale route (_affine / _wgrad via go.t()),
        monkeypatch.setattr(fast_path, "WGRAD_TRANSPOSE_MIN", 0)  # with go.t() copied in blocks
        monkeypatch.setattr(fast_path, "TRANSPOSE_MIN_COLS", 1)   # of 5 rows (the last one ragged)
        monkeypatch.setattr(fast_path, "TRANSPOSE_ROWS", 5)
    ref, fast = _pair(fusion=fusion, attention=attention, **NO_DROPOUT)
    x = torch.randn(4, 17, 32)
    y = _labels(4, 5)
    for m in (ref, fast):
        m.train()
        total, _ = compose_losses(m(x), y, LossConfig(topk_ratio=4.0))
        total.backward()
    for (name, pa), (_, pb) in zip(ref.named_parameters(), fast.named_parameters()):
        scale = pa.grad.abs().max().clamp_min(1e-8)
        assert (pa.grad - pb.grad).abs().max() <= 1e-4 * scale, name


def test_training_steps_match_without_dropout():
    cfg = dict(feature_dim=32, num_classes=5, attention_hidden=8, head_hidden=16, **NO_DROPOUT)
    x = torch.randn(6, 20, 32)
    y = _labels(6, 5)
    runs = {}
    for impl in ("reference", "fast"):
        torch.manual_seed(0)
        m = build_model(ModelConfig(impl=impl, **cfg)).train()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-3)
        losses = []
        for _ in range(5):
            total, _ = compose_losses(m(x), y, LossConfig(topk_ratio=4.0))
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            losses.append(float(total.detach()))
        runs[impl] = (losses, m.state_dict())
    (la, sa), (lb, sb) = runs["reference"], runs["fast"]
    assert all(math.isclose(a, b, rel_tol=1e-4) for a, b in zip(la, lb)), (la, lb)
    for k in sa:
        torch.testing.assert_close(sb[k], sa[k], atol=1e-5, rtol=0, msg=k)


def test_keep_threshold_is_exact_for_dyadic_and_close_otherwise():
    assert keep_threshold(0.5) == (8, 128)
    assert keep_threshold(0.75) == (8, 64)
    assert keep_threshold(0.25 + 2 ** -16) == (16, 2 ** 14 * 3 - 1)   # 16 bits represent it exactly
    # otherwise 16-bit words, the threshold rounded: keep probability within 2^-17
    bits, thr = keep_threshold(0.7)
    assert (bits, thr) == (16, 19661) and abs(thr / 2 ** 16 - 0.3) <= 2 ** -17
    bits, thr = keep_threshold(0.1)
    assert bits == 16 and abs(thr / 2 ** 16 - 0.9) <= 2 ** -17
    # near 0 and 1, 16 bits would overflow (threshold 65536) or drop everything (threshold 0)
    for p in (1e-6, 0.999, 1 - 1e-6):
        bits, thr = keep_threshold(p)
        assert bits == 32 and 1 <= thr < 2 ** 32 and abs(thr / 2 ** 32 - (1 - p)) <= 2 ** -32, p


@pytest.mark.parametrize("p", [0.5, 0.7, 0.1, 0.9, 0.999])
def test_dropout_keep_rate_and_scale(p):
    torch.manual_seed(1)
    n = 400_000
    f_a, f_none, f_b, f_all = draw_keep_masks([((n,), p), ((10,), 0.0), ((n // 2, 2), p), ((5,), 1.0)],
                                              torch.device("cpu"))
    assert f_none is None and f_all is not None and not f_all.any()
    for f in (f_a, f_b):
        vals = torch.unique(f).tolist()
        assert len(vals) == 2 and vals[0] == 0.0 and vals[1] == pytest.approx(1.0 / (1.0 - p), rel=1e-7)
        kept = (f > 0).double().mean().item()
        se = math.sqrt(p * (1 - p) / f.numel())
        assert abs(kept - (1 - p)) < 5 * se, (kept, 1 - p)
        assert abs(f.double().mean().item() - 1.0) < 5 * se / (1 - p)
    # one draw: the two layers of the same p do not share bits
    assert not torch.equal(f_a[: n // 2] > 0, f_b[:, 0] > 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_host_masks_equal_the_torch_branch_bit_for_bit(dtype, monkeypatch):
    # on CPU the comparisons and the 0/v factors are built by numpy from the same random words;
    # the torch branch (what CUDA runs) must give the same bits: 8-, 16- and 32-bit words, scaled
    # (p = 0.5, and any p in float32) and unscaled (p = 0.7 in bf16) factors, p = 0 and p = 1
    specs = [((2, 3, 1, 8), 0.5), ((2, 40, 8), 0.5), ((40, 16), 0.7), ((40, 16), 0.0), ((7, 5), 0.1),
             ((5,), 1.0), ((101,), 0.999), ((13, 3), 1e-6), ((40, 16), 0.7), ((9,), 0.25)]
    calls = []
    real = fast_path._host_factor
    monkeypatch.setattr(fast_path, "_host_factor", lambda *a: calls.append(1) or real(*a))
    torch.manual_seed(11)
    host = draw_keep_masks(specs, torch.device("cpu"), dtype)
    groups = len({p for _, p in specs if 0 < p < 1})
    assert len(calls) == groups == 6  # the numpy branch built every group's factors
    monkeypatch.setattr(fast_path, "_PATTERN", {})
    torch.manual_seed(11)
    ref = draw_keep_masks(specs, torch.device("cpu"), dtype)
    assert len(calls) == groups  # ... and the torch branch built them here
    ints = torch.int16 if dtype == torch.bfloat16 else torch.int32
    for (shape, p), a, b in zip(specs, host, ref):
        if b is None:
            assert a is None, p
            continue
        assert a is not None and a.dtype == b.dtype == dtype and a.shape == b.shape == shape, p
        assert torch.equal(a.reshape(-1).view(ints), b.reshape(-1).view(ints)), p
        if 0.1 <= p <= 0.7:  # the comparison is not vacuous: these layers keep some and drop some
            assert a.any() and not a.all(), p


@pytest.mark.parametrize("T", [1, 2, 5])
def test_unfold3_gradient_is_the_transpose_of_the_unfold(T):
    # the hand backward of the k=3 unfold against finite differences (float64), including the
    # one- and two-snippet edges where a tap falls outside the video
    x = torch.randn(2, T, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fast_path._unfold3, (x,))
    # and the forward itself: [x[t-1], x[t], x[t+1]] with zeros outside
    u = fast_path._unfold3(x).detach().view(2, T, 3, 3)
    pad = torch.nn.functional.pad(x.detach(), (0, 0, 1, 1))
    for j in range(3):
        assert torch.equal(u[:, :, j], pad[:, j:j + T])


def test_train_mode_dropout_is_seeded_and_varies():
    ref, fast = _pair()
    fast.train()
    x = torch.randn(2, 9, 32)
    torch.manual_seed(3)
    a = fast(x).cas
    torch.manual_seed(3)
    b = fast(x).cas
    c = fast(x).cas
    assert torch.equal(a, b) and not torch.equal(b, c)


def test_bf16_autocast_close_and_float32_outputs():
    ref, fast = _pair()
    ref.eval(), fast.eval()
    x = torch.randn(2, 11, 32)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = ref(x), fast(x)
    for name in ("attention", "cas", "cas_supp", "probs"):
        assert getattr(b, name).dtype == torch.float32, name
    torch.testing.assert_close(b.probs, a.probs, atol=0.05, rtol=0)
    torch.testing.assert_close(b.attention, a.attention, atol=0.05, rtol=0)


@pytest.mark.parametrize("wgrad_transpose", [False, True])
def test_backward_under_bf16_autocast_gives_float32_grads(wgrad_transpose, monkeypatch):
    if wgrad_transpose:
        monkeypatch.setattr(fast_path, "WGRAD_TRANSPOSE_MIN", 0)
    _, fast = _pair()
    fast.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fast(torch.randn(3, 10, 32))
    total, _ = compose_losses(out, _labels(3, 5), LossConfig(topk_ratio=4.0))
    total.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all()
               for p in fast.parameters())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", [(3, 1024), (256, 1024), (257, 1024), (512, 1030), (700, 2048),
                                   (300, 16), (0, 2048)])
def test_blocked_transpose_is_the_transpose(shape, dtype):
    """transpose_2d copies in blocks of 256 rows (full blocks, or a ragged last block: 257, 700)
    or, for at most 256 rows, narrow or empty matrices, as before: every case is exactly
    a.t().contiguous()."""
    a = torch.randn(shape).to(dtype)
    got = fast_path.transpose_2d(a)
    assert got.is_contiguous() and got.dtype == dtype
    assert torch.equal(got, a.t().contiguous())


def test_weight_gradient_routes_agree_under_bf16(monkeypatch):
    """The paper-scale route (go.t() made row-major) and the plain one give the same float32
    weight gradients up to the bf16 products' summation order."""
    grads = {}
    x = torch.randn(3, 10, 32)
    for route in ("plain", "transposed"):
        monkeypatch.setattr(fast_path, "WGRAD_TRANSPOSE_MIN", 0 if route == "transposed" else 1 << 40)
        _, fast = _pair(**NO_DROPOUT)
        fast.train()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fast(x)
        total, _ = compose_losses(out, _labels(3, 5), LossConfig(topk_ratio=4.0))
        total.backward()
        grads[route] = {n: p.grad.clone() for n, p in fast.named_parameters()}
    for name, g in grads["plain"].items():
        scale = g.abs().max().clamp_min(1e-8)
        assert (grads["transposed"][name] - g).abs().max() <= 2e-2 * scale, name
