"""Synthetic THUMOS14-like benchmark written as a W-TALC npy bundle.

Structure is calibrated to the real THUMOS14 test annotations (figures from
``docs/evaluation_protocol.md`` §6 and ``shared/data/annotation_stats.json``); the feature
model reproduces what makes weakly-supervised localization hard (action-context confusion, soft and
fragmented instances, hard negatives, per-video nuisance). Everything is generated in seconds and then
multiplied by ``time_scale``; the demo, demo-b and full presets use the real time scale (``time_scale=1``,
mean T ~330 snippets), the smoke preset shrinks time (0.15) to stay tiny.

Two feature models share the annotation generator (so ``demo`` and ``demo-b`` have the same structure
statistics, and for one seed the very same annotations):

* model A (``demo``, ``full``, ``smoke``): unit class prototypes drawn independently (nearly orthogonal
  in 64-d), iid Gaussian noise per snippet, class context at 0.8 of the appearance strength decaying
  over ~8 snippets. Linear per-snippet read-outs separate it well (supervised probe ~88 % snippet
  accuracy at 70 % background, demo seeds 0-2).
* model B (``demo-b``): a second benchmark so that no conclusion of the study rests on one generator.
  It changes the three properties that most plausibly decide how well weak supervision localizes:
  (1) temporally correlated noise — AR(1) along time per dimension (``noise_rho``, marginal sd kept),
  as real I3D snippet features are correlated (receptive fields wider than the 16-frame stride,
  smoothly changing video), so averaging over neighbouring snippets removes much less noise than
  under iid noise;
  (2) less separable classes — classes come in families (``family_size``) whose appearance, motion
  and context prototypes share a common component (cosine ``family_similarity``), like THUMOS's
  several throwing or jumping sports in the same stadium, and weaker action signal;
  (3) stronger action-context confusion — the class context is about as strong as the action
  appearance, stays high far from instances (``context_base``) and decays slowly
  (``context_decay_snippets``), so "the sport's venue" and "the action" are hard to tell apart
  without frame labels. See ``PRESETS["demo-b"]`` for the values and the calibration in
  ``results/calibration/demo-b.md`` (trivial predictor, supervised probe, MIL-only).

Determinism: one ``np.random.default_rng(seed)`` drives everything, annotations first (so
:func:`synthetic_stats` can stop before the features), then prototypes (model B's family components
after all of model A's draws, only when used), then features video by video;
the feature sums avoid BLAS (outer products only); files use a fixed pickle protocol and header. The
same preset and seed therefore give byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..io import atomic_write_json, umask_mode
from .bundle import write_bundle

MARKER_FILE = "synthetic.json"
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class SyntheticConfig:
    """Every parameter of the synthetic benchmark. Times are real-THUMOS seconds before ``time_scale``."""

    name: str = "Synthetic-demo"
    num_classes: int = 20
    num_train: int = 200                 # THUMOS14 "validation" (training) videos
    num_test: int = 212                  # THUMOS14 test videos in the W-TALC files
    feature_dim: int = 128               # 2D = RGB half + flow half
    snippet_seconds: float = 16 / 25
    time_scale: float = 1.0              # real THUMOS time scale (mean T ~330 snippets); < 1 shrinks every time
    min_instance_seconds: float = 0.7    # after scaling: >= one 0.64 s snippet centre inside each instance

    # --- structure (THUMOS14 test: docs/evaluation_protocol.md §6) ---
    log_duration_mean: float = 5.02      # ln(duration s) ~ N(5.02, 0.84)
    log_duration_sd: float = 0.84
    duration_range: tuple[float, float] = (9.0, 1700.0)   # real min 8.9 s (val), max 1673 s (test)
    instances_per_minute: float = 4.0    # NB mean rate; real: mean 15.8 inst / mean 3.6 min = 4.4/min, median 3.55/min;
                                         # 4.0 with r=2 reproduces median 9 instances / video and coverage ~0.29
    count_dispersion: float = 2.0        # negative-binomial shape r (var = mu + mu^2/r): real mean 15.8, var 468
    log_length_mean: float = 1.16        # ln(instance length s) ~ N(1.16, 0.83)
    log_length_sd: float = 0.83
    length_range: tuple[float, float] = (0.2, 90.0)       # real 0.2 .. 86.6 s
    max_coverage: float = 0.9            # instances of one video cover at most this fraction (real max 0.97)
    gap_concentration: float = 0.3       # Dirichlet alpha of gaps; < 1 clusters instances (median same-class gap 3.2 s)
    nested: tuple[int, int] | None = (4, 7)     # (child, parent): like CliffDiving (4) inside Diving (7)
    nested_weight: float = 1.5           # child drawn more often as primary (16 CliffDiving test videos vs ~10.6/class)
    cooccur: tuple[int, int] | None = (5, 6)    # like CricketBowling (5) / CricketShot (6)
    cooccur_prob: float = 0.8            # a video of one pair class also shows the other
    cooccur_instance_prob: float = 0.6   # share of primary instances followed by an overlapping partner instance
    second_class_prob: float = 0.03      # other videos with a random second class (real: 34/212 two+ class videos)
    second_class_share: float = 0.3      # share of instances given to that second class
    label_noise_frac: float = 0.025      # video-level labels disagree with segments (real: 28 of 412)
    ambiguous_video_frac: float = 0.17   # test videos with ambiguous regions (real: 37 of 212)
    ambiguous_per_video: float = 2.7     # mean segments per such video (real: 99 / 37)
    ambiguous_log_length: tuple[float, float] = (1.06, 1.0)  # ln seconds; real median 2.9 s

    # --- feature model (prototypes are unit vectors; strengths are their norms) ---
    appearance_strength: float = 1.0     # RGB class appearance inside instances
    context_strength: float = 0.8        # RGB class context prototype (scene of that sport)
    context_base: float = 0.5            # context level far from instances, relative to near them
    context_decay_snippets: float = 8.0  # context decays with distance to the nearest instance
    motion_strength: float = 1.0         # flow class motion inside instances
    scene_strength: float = 1.0          # per-video nuisance, RGB (shared by all snippets)
    flow_scene_strength: float = 0.3     # per-video nuisance, flow
    camera_strength: float = 0.5         # generic camera motion in flow (one of num_camera directions)
    num_camera: int = 4
    instance_strength_sd: float = 0.3    # ln amplitude sd per instance
    boundary_ramp_snippets: tuple[float, float] = (1.0, 2.0)  # soft boundary width
    boundary_jitter_snippets: float = 0.4  # feature boundaries vs annotated ones
    dip_prob: float = 0.15               # snippets whose action intensity dips (fragmentation)
    dip_range: tuple[float, float] = (0.0, 0.5)
    hard_negative_frac: float = 0.04     # background snippets resembling an unlabelled class
    hard_negative_strength: float = 0.7
    ambiguous_strength: float = 0.5      # partial action signal inside ambiguous regions
    noise_sd: float = 0.25               # Gaussian noise per dimension (marginal sd, also when correlated)

    # --- feature model B (demo-b). Defaults are no-ops: with them no extra random number is drawn and
    # the arithmetic is unchanged, so the other presets stay byte-identical. ---
    noise_rho: float = 0.0               # AR(1) coefficient of the noise along time, per dimension:
                                         # n_t = rho n_(t-1) + sqrt(1 - rho^2) e_t, n_0 = e_0, so the marginal
                                         # sd stays noise_sd. Real I3D snippets overlap in content (smooth
                                         # video), so their nuisance is temporally correlated; neighbour
                                         # averaging then removes far less noise than with iid noise.
    family_size: int = 1                 # classes c with equal c // family_size form a family ...
    family_similarity: float = 0.0       # ... whose appearance, motion and context prototypes have this
                                         # cosine similarity (common family component): confusable sports
                                         # that share venue and movements (throwing, jumping, ...).

    def __post_init__(self) -> None:
        if not 0.0 <= self.noise_rho < 1.0:
            raise ValueError(f"noise_rho must be in [0, 1), got {self.noise_rho}")
        if self.family_size < 1 or not 0.0 <= self.family_similarity < 1.0:
            raise ValueError("family_size must be >= 1 and family_similarity in [0, 1)")
        if self.feature_dim % 2:
            raise ValueError(f"feature_dim must be even (RGB + flow halves), got {self.feature_dim}")
        specials = [c for p in (self.nested, self.cooccur) if p for c in p]
        if any(not 0 <= c < self.num_classes for c in specials) or len(set(specials)) != len(specials):
            raise ValueError("nested/cooccur classes must be distinct valid class ids")


# Sizes of the tiny presets (CI fixtures; load in milliseconds).
_SMOKE_SIZE: dict[str, Any] = dict(num_classes=6, num_train=24, num_test=16, feature_dim=32, time_scale=0.15,
                                   duration_range=(9.0, 600.0), nested=(1, 2), cooccur=(3, 4))
# Feature model B (module docstring): correlated noise, class families, strong slow-decaying context.
# Settings: rho 0.8 (~5-snippet noise correlation time; I3D windows overlap in content), noise sd
# 0.35 (iid-equivalent SNR lower than demo's 0.25), families of 4 with cosine 0.6 and action
# strength 0.7 (within-family discriminative part ~0.44 of demo's), context at the action's
# strength, 0.6 of it far from instances and decaying over 20 snippets (demo: 0.8 / 0.5 / 8).
# Calibration and a rejected harder variant: results/calibration/demo-b.md.
_MODEL_B: dict[str, Any] = dict(noise_rho=0.8, noise_sd=0.35, family_size=4, family_similarity=0.6,
                                appearance_strength=0.7, motion_strength=0.7,
                                context_strength=0.7, context_base=0.6, context_decay_snippets=20.0)

_DEMO = SyntheticConfig()
_SMOKE = replace(_DEMO, name="Synthetic-smoke", **_SMOKE_SIZE)
PRESETS: dict[str, SyntheticConfig] = {
    "smoke": _SMOKE,
    # THUMOS-like at real time scale, 128-d: the whole study on a CPU. Training cost does not depend
    # on video length (videos are resampled to train.seq_len), so real durations cost only at
    # inference; shrinking time would make the median instance a few snippets long and MIL-only
    # localization near-hopeless (docs/synthetic_benchmark.md).
    "demo": _DEMO,
    # Second benchmark: same structure as demo (identical annotations for a seed), feature model B.
    "demo-b": replace(_DEMO, name="Synthetic-demo-b", **_MODEL_B),
    # the smoke-sized counterpart of demo-b, so that tests cover two benchmarks; its 6 classes form
    # two families of 3
    "smoke-b": replace(_SMOKE, name="Synthetic-smoke-b", **{**_MODEL_B, "family_size": 3}),
    # real durations, I3D-sized features (~1.1 GB)
    "full": replace(_DEMO, name="Synthetic-full", feature_dim=2048),
}


def preset_config(preset: str | SyntheticConfig) -> SyntheticConfig:
    if isinstance(preset, SyntheticConfig):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}") from None


@dataclass
class SyntheticAnnotations:
    """Ground truth of a generated benchmark (seconds, after ``time_scale``)."""

    classes: list[str]
    names: list[str]
    subsets: list[str]
    durations: np.ndarray                 # (N,)
    segments: list[np.ndarray]            # (N_i, 2)
    segment_classes: list[np.ndarray]     # (N_i,) int64
    labels_all: list[list[int]]           # video-level labels (with the injected label noise)
    primary: np.ndarray                   # (N,) main class of each video
    ambiguous: list[tuple[str, float, float]] = field(default_factory=list)


def _balanced(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n class ids with counts proportional to ``weights`` (largest remainders, random ties), shuffled."""
    exact = weights / weights.sum() * n
    counts = np.floor(exact).astype(np.int64)
    rest = n - counts.sum()
    if rest:
        order = np.lexsort((rng.random(len(weights)), -(exact - counts)))
        counts[order[:rest]] += 1
    return rng.permutation(np.repeat(np.arange(len(weights)), counts))


def _place(lengths: np.ndarray, duration: float, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Non-overlapping (n, 2) intervals of the given lengths in [0, duration], random Dirichlet gaps."""
    gaps = rng.gamma(alpha, size=lengths.size + 1)
    gaps = gaps / gaps.sum() * max(duration - lengths.sum(), 0.0)
    starts = np.cumsum(gaps[:-1]) + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    return np.stack([starts, starts + lengths], axis=1)


def _video_structure(cfg: SyntheticConfig, primary: int, rng: np.random.Generator
                     ) -> tuple[float, np.ndarray, np.ndarray, list[int]]:
    """One video in real seconds: duration, segments (n, 2), classes (n,), video classes."""
    lo, hi = cfg.duration_range
    duration = float(np.clip(np.exp(rng.normal(cfg.log_duration_mean, cfg.log_duration_sd)), lo, hi))
    # Overdispersed counts whose mean scales with duration (real: r(count, ln duration) = 0.64).
    mu = max(cfg.instances_per_minute * duration / 60.0 - 1.0, 0.05)
    r = cfg.count_dispersion
    n = 1 + int(rng.negative_binomial(r, r / (r + mu)))
    lengths = np.clip(np.exp(rng.normal(cfg.log_length_mean, cfg.log_length_sd, size=n)), *cfg.length_range)
    budget = cfg.max_coverage * duration
    keep = max(1, int(np.searchsorted(np.cumsum(lengths), budget, side="right")))
    lengths = lengths[:keep]
    lengths[0] = min(lengths[0], budget)
    segs = _place(lengths, duration, cfg.gap_concentration, rng)
    cls = np.full(len(segs), primary, dtype=np.int64)
    video_classes = [primary]

    child = cfg.nested[0] if cfg.nested else -1
    pair: tuple[int, ...] = cfg.cooccur or ()
    u_second = rng.random()
    if primary in pair:
        if u_second < cfg.cooccur_prob:
            partner = pair[1] if primary == pair[0] else pair[0]
            video_classes.append(partner)
            follow = rng.random(len(segs)) < cfg.cooccur_instance_prob
            follow[rng.integers(len(segs))] = True
            base = segs[follow]
            ln = segs[follow, 1] - segs[follow, 0]
            start = base[:, 0] + rng.uniform(0.3, 0.9, size=len(base)) * ln  # overlaps the primary instance
            plen = np.clip(np.exp(rng.normal(cfg.log_length_mean, cfg.log_length_sd, size=len(base))),
                           *cfg.length_range)
            extra = np.stack([start, np.minimum(start + plen, duration)], axis=1)
            segs = np.concatenate([segs, extra])
            cls = np.concatenate([cls, np.full(len(extra), partner, np.int64)])
    elif primary != child and u_second < cfg.second_class_prob and len(segs) >= 2:
        others = [c for c in range(cfg.num_classes) if c not in (primary, child)]
        second = int(rng.choice(others))
        video_classes.append(second)
        pick = rng.random(len(segs)) < cfg.second_class_share
        pick[rng.integers(len(segs))] = True
        if pick.all():
            pick[0] = False
        cls[pick] = second
    return duration, segs, cls, video_classes


def _finalize_segments(cfg: SyntheticConfig, segs: np.ndarray, duration: float) -> np.ndarray:
    """Scale, round to 0.1 s (THUMOS precision), keep >= ``min_instance_seconds`` inside the video."""
    ts = cfg.time_scale
    s = np.round(segs * ts, 1)
    m = cfg.min_instance_seconds
    end = math.floor(duration * 10 + 1e-6) / 10  # last 0.1 s grid point inside the video
    s[:, 1] = np.minimum(np.maximum(s[:, 1], s[:, 0] + m), end)
    s[:, 0] = np.maximum(np.minimum(s[:, 0], s[:, 1] - m), 0.0)
    return np.round(s, 1)


def generate_annotations(cfg: SyntheticConfig, rng: np.random.Generator) -> SyntheticAnnotations:
    """Ground truth of all videos (consumes ``rng`` before any feature is drawn)."""
    C = cfg.num_classes
    weights = np.ones(C)
    if cfg.nested:
        weights[cfg.nested[0]] = cfg.nested_weight
    names, subsets, prim = [], [], []
    for subset, n, tag in (("validation", cfg.num_train, "validation"), ("test", cfg.num_test, "test")):
        prim.append(_balanced(weights, n, rng))
        names += [f"video_{tag}_{i + 1:07d}" for i in range(n)]
        subsets += [subset] * n
    primary = np.concatenate(prim)

    durations, segments, seg_classes, labels_all = [], [], [], []
    for p in primary:
        dur, segs, cls, vclasses = _video_structure(cfg, int(p), rng)
        dur_s = round(dur * cfg.time_scale, 3)
        segs = _finalize_segments(cfg, segs, dur_s)
        order = np.lexsort((cls, segs[:, 0]))
        segs, cls = segs[order], cls[order]
        if cfg.nested and p == cfg.nested[0]:
            # Every nested-class instance is also a parent-class instance with identical boundaries,
            # and the video carries both labels (THUMOS: all 217 CliffDiving instances are also Diving).
            dup = cls == cfg.nested[0]
            segs = np.concatenate([segs, segs[dup]])
            cls = np.concatenate([cls, np.full(int(dup.sum()), cfg.nested[1], np.int64)])
            vclasses = vclasses + [cfg.nested[1]]
        durations.append(dur_s)
        segments.append(segs)
        seg_classes.append(cls)
        labels_all.append(sorted(set(vclasses)))

    # Label noise: drop one class of a multi-class video (as for many THUMOS cricket videos) or
    # replace the label of a single-class video by a wrong one (as for video_test_0001496).
    N = len(primary)
    n_noisy = int(round(cfg.label_noise_frac * N))
    for i in rng.choice(N, size=n_noisy, replace=False):
        labs = labels_all[i]
        if len(labs) >= 2:
            labs.remove(int(rng.choice([c for c in labs if c != primary[i]])))
        else:
            labels_all[i] = [int(rng.choice([c for c in range(C) if c != labs[0]]))]

    ambiguous = []
    for i in np.flatnonzero(np.asarray(subsets) == "test"):
        if rng.random() >= cfg.ambiguous_video_frac:
            continue
        k = 1 + int(rng.poisson(cfg.ambiguous_per_video - 1))
        ln = np.exp(rng.normal(*cfg.ambiguous_log_length, size=k)) * cfg.time_scale
        ln = np.clip(ln, 0.3, 0.5 * durations[i])
        st = rng.uniform(0, durations[i] - ln)
        for s, e in sorted(zip(np.round(st, 1), np.round(st + ln, 1))):
            ambiguous.append((names[i], float(s), float(max(e, s + 0.1))))

    classes = [f"Action{c:02d}" for c in range(C)]
    return SyntheticAnnotations(classes=classes, names=names, subsets=subsets, durations=np.asarray(durations),
                                segments=segments, segment_classes=seg_classes, labels_all=labels_all,
                                primary=primary, ambiguous=ambiguous)


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _family_mix(proto: np.ndarray, family: np.ndarray, similarity: float) -> np.ndarray:
    """Unit prototypes whose pairwise cosine within a family is ``similarity`` (in expectation over
    the nearly orthogonal random directions): ``sqrt(1 - s) u_c + sqrt(s) f_family(c)``, renormalized."""
    v = math.sqrt(1.0 - similarity) * proto + math.sqrt(similarity) * family
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _ar1(e: np.ndarray, rho: float) -> np.ndarray:
    """AR(1) along axis 0 of iid unit-variance-scaled rows ``e`` (T, D), keeping the marginal variance:
    ``n_0 = e_0``, ``n_t = rho n_(t-1) + sqrt(1 - rho^2) e_t``. Same dtype; a plain loop (deterministic)."""
    out = np.empty_like(e)
    a, b = e.dtype.type(rho), e.dtype.type(math.sqrt(1.0 - rho * rho))
    prev = e[0]
    out[0] = prev
    for t in range(1, e.shape[0]):
        prev = a * prev + b * e[t]
        out[t] = prev
    return out


def _membership(centres: np.ndarray, segs: np.ndarray, ramp: np.ndarray) -> np.ndarray:
    """(n, T) soft membership: 1 deep inside, 0.5 at the boundary, linear over ``ramp`` seconds."""
    inside = np.minimum(centres[None, :] - segs[:, :1], segs[:, 1:] - centres[None, :])
    return np.clip(0.5 + inside / ramp[:, None], 0.0, 1.0)


def _distance(centres: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """(T,) distance in seconds from each snippet centre to the nearest interval (0 inside)."""
    d = np.maximum(np.maximum(segs[:, :1] - centres[None, :], centres[None, :] - segs[:, 1:]), 0.0)
    return d.min(axis=0)


def generate_features(cfg: SyntheticConfig, ann: SyntheticAnnotations, rng: np.random.Generator) -> list[np.ndarray]:
    """(T_i, D) float32 features per video, T_i = ceil(duration / snippet_seconds). See module docstring.

    RGB half: scene nuisance + appearance(class) x intensity + context(class) near/around instances.
    Flow half: scene nuisance (weak) + motion(class) x intensity + generic camera motion.
    Both: hard-negative snippets of an unlabelled class, Gaussian noise (iid, or AR(1) in time when
    ``noise_rho > 0``). With ``family_similarity > 0`` the class prototypes share family components.
    """
    C, H, sp = cfg.num_classes, cfg.feature_dim // 2, cfg.snippet_seconds
    appearance, context, motion = _unit(rng, C, H), _unit(rng, C, H), _unit(rng, C, H)
    camera = _unit(rng, cfg.num_camera, H)
    if cfg.family_similarity > 0 and cfg.family_size > 1:
        family = np.arange(C) // cfg.family_size
        nf = int(family.max()) + 1
        appearance, motion, context = (_family_mix(p, _unit(rng, nf, H)[family], cfg.family_similarity)
                                       for p in (appearance, motion, context))
    amb: dict[str, list[tuple[float, float]]] = {}
    for v, s, e in ann.ambiguous:
        amb.setdefault(v, []).append((s, e))

    out = []
    for i, name in enumerate(ann.names):
        T = max(1, math.ceil(ann.durations[i] / sp - 1e-9))
        centres = (np.arange(T) + 0.5) * sp
        segs, cls = ann.segments[i], ann.segment_classes[i]
        x = rng.standard_normal((T, cfg.feature_dim), dtype=np.float32) * np.float32(cfg.noise_sd)
        if cfg.noise_rho > 0:
            x = _ar1(x, cfg.noise_rho)
        rgb, flow = x[:, :H], x[:, H:]
        rgb += cfg.scene_strength * rng.uniform(0.5, 1.5) * _unit(rng, 1, H)[0]
        flow += cfg.flow_scene_strength * rng.uniform(0.5, 1.5) * _unit(rng, 1, H)[0]
        cam_amp = cfg.camera_strength * np.abs(rng.standard_normal(T))
        flow += np.outer(cam_amp, camera[rng.integers(cfg.num_camera)])

        # Noisy soft boundaries, per-instance amplitude, intensity dips inside instances.
        jit = rng.normal(0.0, cfg.boundary_jitter_snippets * sp, size=segs.shape)
        ramp = rng.uniform(*cfg.boundary_ramp_snippets, size=len(segs)) * sp
        strength = np.exp(rng.normal(0, cfg.instance_strength_sd, len(segs)))
        memb = _membership(centres, segs + jit, ramp) * strength[:, None]
        dips = np.where(rng.random(T) < cfg.dip_prob, rng.uniform(*cfg.dip_range, size=T), 1.0)
        present = np.unique(cls)
        act = np.zeros((C, T))
        for c in present:
            act[c] = memb[cls == c].max(axis=0) * dips
        if name in amb:
            a = np.asarray(amb[name])
            act[ann.primary[i]] = np.maximum(act[ann.primary[i]], cfg.ambiguous_strength *
                                             _membership(centres, a, np.full(len(a), sp)).max(axis=0))
        for c in np.flatnonzero(act.any(axis=1)):
            rgb += np.outer(cfg.appearance_strength * act[c], appearance[c])
            flow += np.outer(cfg.motion_strength * act[c], motion[c])
        # Action-context confusion: the scene of a class is visible around and between its instances.
        for c in present:
            near = np.exp(-_distance(centres, segs[cls == c]) / (cfg.context_decay_snippets * sp))
            rgb += np.outer(cfg.context_strength * (cfg.context_base + (1 - cfg.context_base) * near), context[c])
        # Hard negatives: some background snippets look like a class the video is not labelled with.
        labelled = set(present.tolist()) | set(ann.labels_all[i])
        others = [c for c in range(C) if c not in labelled]
        background = act.max(axis=0) < 0.05
        hard = background & (rng.random(T) < cfg.hard_negative_frac)
        if others and hard.any():
            j = int(rng.choice(others))
            h = cfg.hard_negative_strength * hard
            rgb += np.outer(h * cfg.appearance_strength, appearance[j])
            flow += np.outer(h * cfg.motion_strength, motion[j])
        out.append(x)
    return out


def generate(preset: str | SyntheticConfig,
             seed: int = 0) -> tuple[SyntheticConfig, SyntheticAnnotations, list[np.ndarray]]:
    """In-memory benchmark: (config, annotations, features)."""
    cfg = preset_config(preset)
    rng = np.random.default_rng(seed)
    ann = generate_annotations(cfg, rng)
    return cfg, ann, generate_features(cfg, ann, rng)


def _union_length(segs: np.ndarray, duration: float) -> float:
    if len(segs) == 0:
        return 0.0
    s = np.clip(segs[np.argsort(segs[:, 0])], 0.0, duration)
    total, cur_s, cur_e = 0.0, s[0, 0], s[0, 1]
    for a, b in s[1:]:
        if a > cur_e:
            total += cur_e - cur_s
            cur_s, cur_e = a, b
        else:
            cur_e = max(cur_e, b)
    return total + cur_e - cur_s


def annotation_statistics(ann: SyntheticAnnotations, cfg: SyntheticConfig, subset: str | None = None) -> dict:
    """Structure statistics to compare with THUMOS14 (docs/evaluation_protocol.md §6)."""
    idx = [i for i, s in enumerate(ann.subsets) if subset is None or s == subset]
    counts = np.asarray([len(ann.segments[i]) for i in idx])
    lengths = np.concatenate([np.diff(ann.segments[i], axis=1)[:, 0] for i in idx])
    cover = np.asarray([_union_length(ann.segments[i], ann.durations[i]) / ann.durations[i] for i in idx])
    ncls = np.asarray([len(np.unique(ann.segment_classes[i])) for i in idx])
    T = np.ceil(ann.durations[idx] / cfg.snippet_seconds - 1e-9)
    noisy = sum(set(ann.labels_all[i]) != set(ann.segment_classes[i].tolist()) for i in idx)
    amb_names = {v for v, _, _ in ann.ambiguous}
    def pct(a):
        return {f"p{q}": float(np.percentile(a, q)) for q in (5, 25, 50, 75, 95)} | {"mean": float(np.mean(a))}
    return {
        "videos": len(idx),
        "instances": int(counts.sum()),
        "instances_per_video": pct(counts),
        "instance_len_s": pct(lengths),
        "duration_s": pct(ann.durations[idx]),
        "num_snippets": pct(T) | {"max": float(T.max())},
        "coverage": pct(cover),
        "frac_multi_class": float(np.mean(ncls >= 2)),
        "label_noise_videos": int(noisy),
        "ambiguous_segments": sum(1 for v, _, _ in ann.ambiguous if ann.names.index(v) in set(idx)) if idx else 0,
        "ambiguous_videos": len(amb_names & {ann.names[i] for i in idx}),
    }


def synthetic_stats(preset: str | SyntheticConfig, seed: int = 0, subset: str | None = None) -> dict:
    """Statistics of the annotations a preset/seed generates (no features are drawn)."""
    cfg = preset_config(preset)
    return annotation_statistics(generate_annotations(cfg, np.random.default_rng(seed)), cfg, subset)


# The fields of generator version 1, always written to synthetic.json. Every later field defaults
# to a no-op and is written only when set, so the markers of the older presets keep their bytes.
_VERSION_1_FIELDS = frozenset("""
    name num_classes num_train num_test feature_dim snippet_seconds time_scale min_instance_seconds
    log_duration_mean log_duration_sd duration_range instances_per_minute count_dispersion log_length_mean
    log_length_sd length_range max_coverage gap_concentration nested nested_weight cooccur cooccur_prob
    cooccur_instance_prob second_class_prob second_class_share label_noise_frac ambiguous_video_frac
    ambiguous_per_video ambiguous_log_length appearance_strength context_strength context_base
    context_decay_snippets motion_strength scene_strength flow_scene_strength camera_strength num_camera
    instance_strength_sd boundary_ramp_snippets boundary_jitter_snippets dip_prob dip_range
    hard_negative_frac hard_negative_strength ambiguous_strength noise_sd""".split())


def _marker_config(cfg: SyntheticConfig) -> dict:
    d = json.loads(json.dumps(asdict(cfg)))
    default = json.loads(json.dumps(asdict(SyntheticConfig())))
    return {k: v for k, v in d.items() if k in _VERSION_1_FIELDS or v != default[k]}


def make_synthetic(preset: str | SyntheticConfig, seed: int = 0, out: str | os.PathLike = ".") -> Path:
    """Write the benchmark as a W-TALC bundle at ``out`` (``<name>-I3D-JOINTFeatures.npy`` +
    ``<name>-Annotations/``) and return ``out``.

    Written into a temporary sibling directory and renamed into place. An existing ``out`` is replaced
    only when it is empty or a previous synthetic benchmark (has ``synthetic.json``); anything else
    is refused with DataError, so user data is never overwritten.
    """
    cfg = preset_config(preset)
    out = Path(out).absolute()
    if out.exists():
        if not out.is_dir():
            raise DataError("output exists and is not a directory", file=str(out))
        if any(out.iterdir()) and not (out / MARKER_FILE).is_file():
            raise DataError("refusing to overwrite a non-empty directory that is not a synthetic benchmark",
                            file=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old = None
    try:
        os.chmod(tmp, umask_mode(0o777))  # mkdtemp creates 0700
        _, ann, feats = generate(cfg, seed)
        write_bundle(tmp, cfg.name, classes=ann.classes, videonames=ann.names, subsets=ann.subsets,
                     segments=ann.segments,
                     labels=[[ann.classes[c] for c in cl] for cl in ann.segment_classes],
                     labels_all=[[ann.classes[c] for c in la] for la in ann.labels_all],
                     durations=ann.durations, features=feats, ambiguous=ann.ambiguous)
        atomic_write_json(tmp / MARKER_FILE, {"preset": preset if isinstance(preset, str) else None,
                                              "seed": int(seed), "generator_version": GENERATOR_VERSION,
                                              "config": _marker_config(cfg)})
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "x")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "x").exists() and not out.exists():
            os.replace(old / "x", out)  # put the previous benchmark back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out


__all__ = ["SyntheticConfig", "PRESETS", "preset_config", "SyntheticAnnotations", "generate_annotations",
           "generate_features", "generate", "annotation_statistics", "synthetic_stats", "make_synthetic"]
