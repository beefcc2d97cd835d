"""Fast forward pass of :class:`~himnet_lib.modeling.himnet.HiMNet` (``ModelConfig.impl = "fast"``).

The same function as the reference modules, computed from the *same parameters* (so checkpoints
are interchangeable), with cheaper building blocks:

* time-major ``(B, T, C)`` layout throughout (no transposes);
* every convolution as one matrix product: k=1 as ``addmm``; k=3 as one product over the unfolded
  input ``[x[t-1], x[t], x[t+1]]`` (zero padded), with the weight ``(out, in, 3)`` reshaped to
  ``(3*in, out)``; the length-1 global context of the consensus gate as a ``Linear``;
* k=3 weights stored tap-major in memory (:func:`tap_major_`; same shape and values), so the
  (3*in, out) matrix is a free view and its gradient lands in place;
* the two modality branches (two consensus gates, two attention heads; same shapes) share every
  elementwise op on a leading group axis of 2; their products run as one autograd node
  (:class:`_GroupedAffine`: one ``addmm`` per group written into its output slice);
* LeakyReLU and dropout fused into one autograd node (:class:`_ActDrop`) that saves only the
  pre-activation and the mask;
* every dropout mask of a forward pass comes from ONE call of the random generator (raw 64-bit
  words) and is read as 8, 16 or 32-bit integers compared with a threshold, instead of one
  ``bernoulli_`` call per layer (the dominant cost of the reference step at demo scale).

Dropout masks (exactness): the keep probability ``q = 1 - p`` is realised as ``round(q * 2^b) / 2^b``
with ``b`` = 8 or 16 bits, the smaller one that represents ``q`` exactly (p = 0.5: 8 bits, exact),
else b = 16 (error <= 2^-17 = 7.6e-6; p = 0.7 keeps with probability 19661/65536 = 0.300003), or
b = 32 where 16 bits would be off by more than 2^-10 of q (p > 0.992).
That error is far below the sampling noise of a mask (one 1920 x 128 mask: sd 1e-3), and 16-bit
words halve the random bytes and compare passes of 32-bit ones (0.5 ms of a ~20 ms demo step);
kept values are scaled by ``1 / q`` as ``nn.Dropout`` does. The masks are drawn from torch's default generator, so
``torch.manual_seed`` and the trainer's RNG checkpointing cover them; they are not the same
masks as the reference path's (the distribution is).

Under bf16 autocast the input is cast once, the products and the elementwise work run in bf16
(masks carry 1/(1-p) where it is exact in bf16, as for p = 0.5, else they are 0/1 and 1/(1-p) is
applied as a float scalar, so that it is not rounded to bf16);
the parameters stay float32 (master weights) and get float32 gradients; attention and the CAS
leave in float32 as in the reference path.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["keep_threshold", "draw_keep_masks", "scale_is_exact", "fast_forward"]

_INT = {8: torch.int8, 16: torch.int16, 32: torch.int32}
# 16-bit words are used for a keep probability q they cannot represent exactly only while the
# rounded threshold is off by at most this fraction of q (q >= 2**-7, i.e. p <= 0.992); otherwise
# 32-bit words (e.g. p = 0.999).
_MAX_REL_ERROR_16 = 2.0 ** -10


def keep_threshold(p: float) -> tuple[int, int]:
    """(bits, threshold) such that an unsigned uniform ``bits``-bit integer u is kept iff
    ``u < threshold``, for 0 < p < 1. ``threshold / 2**bits`` equals ``1 - p`` exactly when 8 or 16
    bits can represent it; else it is rounded to 16 bits (within 2**-17 absolute and 2**-10 relative
    to 1 - p), or to 32 bits where 16 are too coarse for that."""
    q = 1.0 - float(p)
    for bits in (8, 16):
        t = q * (1 << bits)
        if t == math.floor(t):
            return bits, int(t)
    t16 = round(q * (1 << 16))
    if 1 <= t16 < (1 << 16) and abs(t16 / (1 << 16) - q) <= _MAX_REL_ERROR_16 * q:
        return 16, int(t16)
    return 32, int(min(max(round(q * (1 << 32)), 1), (1 << 32) - 1))


def draw_keep_masks(specs: list[tuple[tuple[int, ...], float]], device: torch.device,
                    dtype: torch.dtype = torch.float32) -> list[Tensor | None]:
    """Dropout factors for several layers from ONE draw of random 64-bit words.

    ``specs``: (shape, p) per layer. Each factor (``dtype``) is ``keep / (1 - p)`` where that scale
    is exact in ``dtype`` (:func:`scale_is_exact`: always in float32; p = 0.5 in bf16), else the 0/1
    keep mask, whose scale the caller applies as a float; p = 0 gives None (no dropout), p = 1 all
    zeros. Layers with the same p share one threshold comparison (their random words are
    adjacent), so the work is a handful of vectorised passes however many layers there are.
    Comparisons go through uint8 views, not bool tensors (mixed bool arithmetic is several times slower on CPU).
    """
    groups: dict[float, list[int]] = {}
    for i, (shape, p) in enumerate(specs):
        if 0.0 < p < 1.0 and math.prod(shape) > 0:
            groups.setdefault(float(p), []).append(i)
    plan, offset = [], 0  # (p, bits, thr, byte offset, [(layer, start, n)], total n)
    for p, idx in groups.items():
        bits, thr = keep_threshold(p)
        layers, n = [], 0
        for i in idx:
            k = math.prod(specs[i][0])
            layers.append((i, n, k))
            n += k
        plan.append((p, bits, thr, offset, layers, n))
        offset += -(-n * bits // 64) * 8  # 8-byte aligned group segments
    out: list[Tensor | None] = [None] * len(specs)
    for i, (shape, p) in enumerate(specs):
        if p >= 1.0:
            out[i] = torch.zeros(shape, device=device, dtype=dtype)
    if not offset:
        return out
    raw = torch.empty(offset // 8, dtype=torch.int64, device=device).random_(-2 ** 63, None)
    raw8 = raw.view(torch.uint8)
    raw8_np = raw.numpy().view(np.uint8) if raw.device.type == "cpu" and dtype in _PATTERN else None
    for p, bits, thr, off, layers, n in plan:
        lo, hi = off, off + n * bits // 8
        f = (_host_factor(raw8_np[lo:hi], p, bits, thr, n, dtype) if raw8_np is not None
             else _torch_factor(raw8[lo:hi], p, bits, thr, n, dtype))
        for i, start, k in layers:
            out[i] = f[start: start + k].view(specs[i][0])
    return out


def _torch_factor(seg: Tensor, p: float, bits: int, thr: int, n: int, dtype: torch.dtype) -> Tensor:
    """The n factors (0 or 1/(1-p) where exact in ``dtype``, else 0/1) of one group's random bytes."""
    # signed view of an unsigned uniform u: u < thr  <=>  s < thr - 2^(bits-1)
    f = (seg.view(_INT[bits])[:n] < thr - (1 << (bits - 1))).view(torch.uint8).to(dtype)
    if scale_is_exact(p, dtype):
        f.mul_(1.0 / (1.0 - p))
    return f


# unsigned word and signed torch view of the factor dtypes built on the host
_PATTERN: dict[torch.dtype, tuple[np.dtype, torch.dtype]] = {
    torch.float32: (np.dtype(np.uint32), torch.int32), torch.bfloat16: (np.dtype(np.uint16), torch.int16)}
_NP_INT = {8: np.int8, 16: np.int16, 32: np.int32}


@functools.lru_cache(maxsize=None)
def _bits_of(value: float, dtype: torch.dtype) -> int:
    """The bit pattern of ``value`` rounded to ``dtype`` (float32 or bf16), as an unsigned int."""
    word, signed = _PATTERN[dtype]
    return int(torch.tensor(value, dtype=dtype).view(signed).item()) % (1 << (8 * word.itemsize))


def _host_factor(seg: np.ndarray, p: float, bits: int, thr: int, n: int, dtype: torch.dtype) -> Tensor:
    """:func:`_torch_factor` on CPU: the same comparison of the same random bytes done by numpy,
    and the factor written directly as the bit pattern of 0 or v in ``dtype``. Bit-identical to
    comparing in torch, converting and scaling (0 * v = +0 and 1 * v = v in any float type), and
    cheaper: torch compares 16-bit integers and converts uint8 to bf16 at a fraction of numpy's
    speed (a demo forward's masks: 1.18 -> 0.74 ms; most of the rest is drawing the random words)."""
    word = _PATTERN[dtype][0]
    v = 1.0 / (1.0 - p) if scale_is_exact(p, dtype) else 1.0
    keep = seg.view(_NP_INT[bits])[:n] < thr - (1 << (bits - 1))
    return torch.from_numpy(np.multiply(keep.view(np.uint8), word.type(_bits_of(v, dtype)), dtype=word)).view(dtype)


@functools.lru_cache(maxsize=None)  # asked for every dropout layer of every forward pass
def scale_is_exact(p: float, dtype: torch.dtype) -> bool:
    """Whether the dropout scale 1/(1-p) is exact in ``dtype`` (float32: treated as exact, as in
    ``nn.Dropout``; bf16: powers of two such as p = 0.5 -> 2, not p = 0.7 -> 3.33)."""
    if dtype in (torch.float32, torch.float64) or not 0.0 < p < 1.0:
        return True
    f = 1.0 / (1.0 - p)
    return float(torch.tensor(f, dtype=dtype)) == f


class _ActDrop(torch.autograd.Function):
    """LeakyReLU then dropout: ``leaky_relu(y) * mask * scale``; saves y and the mask only.

    ``mask`` is 0/1 in y's dtype with ``scale = 1/(1-p)`` (bf16: the scale is applied as a float
    scalar, so 1/(1-p) is not rounded to bf16), or already scaled (float32) with ``scale = 1``."""

    @staticmethod
    def forward(ctx, y: Tensor, mask: Tensor, slope: float, scale: float) -> Tensor:
        mask = mask.to(y.dtype)
        z = F.leaky_relu(y, slope).mul_(mask)
        if scale != 1.0:
            z.mul_(scale)
        ctx.save_for_backward(y, mask)
        ctx.slope, ctx.scale = slope, scale
        return z

    @staticmethod
    def backward(ctx, g: Tensor):
        y, mask = ctx.saved_tensors
        gz = g * mask
        if ctx.scale != 1.0:
            gz.mul_(ctx.scale)
        return torch.ops.aten.leaky_relu_backward(gz, y, ctx.slope, False), None, None, None


def _act_drop(y: Tensor, slope: float, mask: Tensor | None, scale: float) -> Tensor:
    """LeakyReLU(y) then dropout (mask None: no dropout)."""
    if mask is None:
        return F.leaky_relu(y, slope)
    return _ActDrop.apply(y, mask, slope, scale)


def _drop(y: Tensor, mask: Tensor | None, scale: float) -> Tensor:
    if mask is None:
        return y
    z = y * mask.to(y.dtype)
    return z * scale if scale != 1.0 else z


class _Unfold3(torch.autograd.Function):
    """(..., T, C) -> (..., T, 3C) = [x[t-1], x[t], x[t+1]] with zeros outside [0, T); a hand
    backward (one sum written into the gradient, one slice add) instead of the generic
    unfold/as_strided backward."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        T, C = x.shape[-2], x.shape[-1]
        out = x.new_empty(*x.shape[:-1], 3, C)
        out[..., 1, :] = x
        out[..., 0, 0, :] = 0
        out[..., -1, 2, :] = 0
        if T > 1:
            out[..., 1:, 0, :] = x[..., :-1, :]
            out[..., :-1, 2, :] = x[..., 1:, :]
        return out.flatten(-2)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        # gx[t] = (g[t, 1] + g[t+1, 0]) + g[t-1, 2], each sum rounded in g's dtype; the first sum
        # is written straight into gx (no copy of the centre tap first: two passes instead of three)
        g = g.unflatten(-1, (3, -1))  # at T = 1 the shifted slices are empty: gx = centre tap
        gx = torch.empty(g.shape[:-2] + g.shape[-1:], dtype=g.dtype, device=g.device)
        torch.add(g[..., :-1, 1, :], g[..., 1:, 0, :], out=gx[..., :-1, :])
        gx[..., -1, :] = g[..., -1, 1, :]
        gx[..., 1:, :] += g[..., :-1, 2, :]
        return gx


def _unfold3(x: Tensor) -> Tensor:
    return _Unfold3.apply(x)


def _w3(w: Tensor) -> Tensor:
    """Conv1d k=3 weight (out, in, 3) -> (3*in, out) matching :func:`_unfold3`. A free view when
    the weight is stored tap-major (strides (3*in, 1, in), see :func:`tap_major_`)."""
    return w.permute(0, 2, 1).reshape(w.shape[0], 3 * w.shape[1]).t()


def tap_major_(module: torch.nn.Module) -> None:
    """Store every k=3 Conv1d weight tap-major in memory (same shape and values, strides
    (3*in, 1, in)), so that the fast path reads it as a (3*in, out) matrix without a copy and its
    gradient comes back in that layout. state_dicts are unaffected (same shapes and values)."""
    for m in module.modules():
        if isinstance(m, torch.nn.Conv1d) and m.kernel_size == (3,):
            with torch.no_grad():
                m.weight.data = m.weight.data.permute(0, 2, 1).contiguous().permute(0, 2, 1)


def _w1(w: Tensor) -> Tensor:
    """Conv1d k=1 weight (out, in, 1) -> (in, out) view."""
    return w[:, :, 0].t()


class _GroupedAffine(torch.autograd.Function):
    """G affine maps at once: x (G, N, in) -> out[g] = b[g] + x[g] @ w[g]  (G, N, out).

    Each group is one ``addmm`` written straight into its slice of the output (no stacking of
    weights or outputs); the backward is one product per group for the input and for the weight
    gradient. Computes in ``dtype`` (the autocast dtype, or the input's); gradients of weights and
    biases come back in their own dtype (float32 master weights under bf16 autocast)."""

    @staticmethod
    def forward(ctx, x: Tensor, dtype: torch.dtype, *wb: Tensor) -> Tensor:
        G = x.shape[0]
        ws, bs = wb[:G], wb[G:]
        xc = x.to(dtype)
        wc = [w.to(dtype) for w in ws]
        out = torch.empty(G, x.shape[1], wc[0].shape[1], dtype=dtype, device=x.device)
        with torch.autocast(x.device.type, enabled=False):
            for g in range(G):
                torch.addmm(bs[g].to(dtype), xc[g], wc[g], out=out[g])
        ctx.save_for_backward(xc, *wc)
        ctx.meta = (x.dtype, [w.dtype for w in ws], [b.dtype for b in bs])
        return out

    @staticmethod
    def backward(ctx, go: Tensor):
        xc, *wc = ctx.saved_tensors
        x_dtype, w_dtypes, b_dtypes = ctx.meta
        G = len(wc)
        go = go.to(xc.dtype)
        gx = None
        if ctx.needs_input_grad[0]:
            gx = torch.empty_like(xc)
            for g in range(G):
                torch.mm(go[g], wc[g].t(), out=gx[g])
            gx = gx.to(x_dtype)
        gw = [_wgrad(xc[g], go[g]).to(w_dtypes[g]) if ctx.needs_input_grad[2 + g] else None
              for g in range(G)]
        gb = [go[g].sum(0).to(b_dtypes[g]) if ctx.needs_input_grad[2 + G + g] else None for g in range(G)]
        return (gx, None, *gw, *gb)


# Weight gradients x.t() @ go with go of at least this many elements are computed as
# (go.t().contiguous() @ x).t(): oneDNN's product with a transposed (N, out) operand and a long
# reduction over N is slow at paper scale, while at demo scale the extra transpose costs more than
# it saves (docs/performance.md). Below the threshold the plain product is used.
WGRAD_TRANSPOSE_MIN = 1 << 21


def _wgrad(x: Tensor, go: Tensor) -> Tensor:
    """x (N, in), go (N, out) -> x.t() @ go (in, out); large ones via a row-major go.t()."""
    if go.numel() >= WGRAD_TRANSPOSE_MIN:
        return torch.mm(transpose_2d(go), x).t()
    return torch.mm(x.t(), go)


# Rows per block of :func:`transpose_2d`, and the narrowest matrix it blocks.
TRANSPOSE_ROWS, TRANSPOSE_MIN_COLS = 256, 1024


def transpose_2d(a: Tensor) -> Tensor:
    """``a.t().contiguous()`` for a 2-D tensor, the same values, copied in blocks of
    ``TRANSPOSE_ROWS`` rows of ``a`` where it has at least ``TRANSPOSE_MIN_COLS`` columns.

    torch copies a transposed matrix column by column of the source: with 1024 or more bf16
    columns the reads of one output row are 2 KB or more apart, conflict in the caches, and the copy
    runs on one thread whatever the thread count. A block of 256 source rows keeps the reads of an
    output row segment in cache and each block's copy is split across threads (docs/performance.md
    has the measurements). Narrower matrices, and tensors off the CPU (the cache pattern is the
    CPU's), are copied by ``a.t().contiguous()``."""
    n, c = a.shape
    if a.device.type != "cpu" or c < TRANSPOSE_MIN_COLS or n <= TRANSPOSE_ROWS:
        return a.t().contiguous()
    out = torch.empty(c, n, dtype=a.dtype, device=a.device)
    for i in range(0, n, TRANSPOSE_ROWS):
        out[:, i: i + TRANSPOSE_ROWS] = a[i: i + TRANSPOSE_ROWS].t()
    return out


def _grouped_affine(x: Tensor, ws: list[Tensor], bs: list[Tensor]) -> Tensor:
    """:class:`_GroupedAffine` in the autocast dtype (or the input's)."""
    dev = x.device.type
    dtype = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype
    return _GroupedAffine.apply(x, dtype, *ws, *bs)


def _affine(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """x (N, in) @ w (in, out) + b; through :class:`_GroupedAffine` (and :func:`_wgrad`) when the
    output is large, else a plain ``addmm``."""
    if x.shape[0] * w.shape[1] >= WGRAD_TRANSPOSE_MIN:
        return _grouped_affine(x.unsqueeze(0), [w], [b])[0]
    return torch.addmm(b, x, w)


def _gemm_g(x: Tensor, ws: list[Tensor], bs: list[Tensor]) -> Tensor:
    """Grouped affine map: x (G, N, in), weights G x (in, out), biases G x (out,) -> (G, N, out)."""
    if len(ws) == 1:
        return _affine(x[0], ws[0], bs[0]).unsqueeze(0)
    return _grouped_affine(x, ws, bs)


def fast_forward(model: Any, x: Tensor) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...]]:
    """HiMNet's network on the fast path, from the same parameters as the reference path.

    ``x`` (B,T,2D) -> (attention A (B,T) float32, CAS S (B,T,C+1) float32, X̂ (B,T,2D) in the compute
    dtype, per-head attentions); :meth:`HiMNet.forward` turns them into a ``ModelOutput``.
    """
    cfg = model.cfg
    B, T, D = x.shape
    N = B * T
    s = cfg.leaky_slope
    train = model.training
    heads = list(model.attention_heads)
    G = len(heads)

    # --- plan every dropout mask of this pass, draw them with one RNG call ---------------------
    Dm = cfg.modality_dim
    specs: list[tuple[tuple[int, ...], float]] = []

    def want(shape, p):
        specs.append((shape, p if train else 0.0))
        return len(specs) - 1

    if cfg.fusion == "ccm":
        i_glob = want((2, B, 1, Dm), cfg.ccm_dropout)
        i_loc = want((2, N, Dm), cfg.ccm_dropout)
    i_mix = want((N, D), cfg.dropout)
    i_att = want((G, N, cfg.attention_hidden), cfg.attention_dropout)
    i_logit = want((G, N, 1), cfg.attention_logit_dropout)
    i_hin = want((N, D), cfg.head_input_dropout)
    i_cls = want((N, cfg.hidden), cfg.dropout)
    dev = x.device.type
    cd = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype
    # masks carry the 1/(1-p) factor where it is exact in the compute dtype (float32 always, bf16
    # for p = 0.5); otherwise it is applied as a float scalar (sc), so it is not rounded to bf16
    masks = draw_keep_masks(specs, x.device, dtype=cd)

    def sc(p: float) -> float:
        return 1.0 if p <= 0 or scale_is_exact(p, cd) else 1.0 / (1.0 - p)

    xc = x.to(cd)  # under autocast: one cast here instead of casts of every unfolded copy

    # --- fusion --------------------------------------------------------------------------------
    if cfg.fusion == "ccm":
        fu = model.fusion
        gates = [fu.rgb_gate, fu.flow_gate]
        main = xc.view(B, T, 2, Dm).permute(2, 0, 1, 3).contiguous()   # (2,B,T,Dm): rgb, flow
        aux = main.flip(0)                                             # flow, rgb
        # global context: Linear on the time mean (k=1 conv on a length-1 sequence)
        gctx = _gemm_g(main.mean(dim=2), [_w1(g.global_context[0].weight) for g in gates],
                       [g.global_context[0].bias for g in gates]).unsqueeze(2)   # (2,B,1,Dm)
        gctx = _act_drop(gctx, s, masks[i_glob], sc(cfg.ccm_dropout))
        # local context: k=3 conv of the other modality
        loc = _gemm_g(_unfold3(aux).reshape(2, N, 3 * Dm), [_w3(g.local_context[0].weight) for g in gates],
                      [g.local_context[0].bias for g in gates])                  # (2,N,Dm)
        loc = _act_drop(loc, s, masks[i_loc], sc(cfg.ccm_dropout)).view(2, B, T, Dm)
        gated = torch.sigmoid(loc * gctx) * main                       # (2,B,T,Dm)
        cat = gated.permute(1, 2, 0, 3).reshape(N, D)                  # [rgb', flow']
        mix = fu.mix[0]
        fused = _affine(cat, mix.weight[:, :, 0].t(), mix.bias)
        modality = gated                                               # heads read rgb', flow'
    else:
        mix = model.fusion.mix[0]
        fused = _affine(xc.reshape(N, D), mix.weight[:, :, 0].t(), mix.bias)
        modality = xc.view(B, T, 2, Dm).permute(2, 0, 1, 3).contiguous()
    fused = _act_drop(fused, s, masks[i_mix], sc(cfg.dropout))             # X̂ (N,D)

    # --- attention heads (both modality heads as one batched product) --------------------------
    hin = modality if cfg.attention == "modality" else xc.unsqueeze(0)  # (G,B,T,Din)
    Din = hin.shape[-1]
    c1 = [h.body[0][0] for h in heads]
    c2 = [h.body[1][0] for h in heads]
    c3 = [h.body[2] for h in heads]
    Ha = cfg.attention_hidden
    a = _gemm_g(_unfold3(hin).reshape(G, N, 3 * Din), [_w3(c.weight) for c in c1], [c.bias for c in c1])
    a = _act_drop(a, s, masks[i_att], sc(cfg.attention_dropout))
    a = _gemm_g(_unfold3(a.view(G, B, T, Ha)).reshape(G, N, 3 * Ha),
                [_w3(c.weight) for c in c2], [c.bias for c in c2])
    a = F.leaky_relu(a, s)
    logits = _gemm_g(a, [_w1(c.weight) for c in c3], [c.bias for c in c3])          # (G,N,1)
    logits = _drop(logits, masks[i_logit], sc(cfg.attention_logit_dropout))
    parts_t = torch.sigmoid(logits.float()).view(G, B, T)
    parts = tuple(parts_t.unbind(0))
    attention = parts_t.mean(dim=0) if G > 1 else parts[0]

    # --- classifier ----------------------------------------------------------------------------
    cls = model.classifier.body
    conv3, conv1 = cls[1][0], cls[2]
    h = _drop(fused, masks[i_hin], sc(cfg.head_input_dropout))
    h = _affine(_unfold3(h.view(B, T, D)).reshape(N, 3 * D), _w3(conv3.weight), conv3.bias)
    h = _act_drop(h, s, masks[i_cls], sc(cfg.dropout))
    cas = _affine(h, conv1.weight[:, :, 0].t(), conv1.bias).float().view(B, T, -1)
    return attention, cas, fused.view(B, T, D), parts
