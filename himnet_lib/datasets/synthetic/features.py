"""Snippet features of the synthetic benchmark, from its annotations."""

from __future__ import annotations

import math

import numpy as np

from himnet_lib.datasets.synthetic.annotations import (
    SyntheticAnnotations,
)
from himnet_lib.datasets.synthetic.presets import (
    SyntheticConfig,
)


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
    ``noise_rho > 0``). With ``family_similarity > 0`` the class prototypes share family components;
    with ``class_style > 0`` each video's action signal uses its own prototypes around the class means
    (hard negatives keep the means).
    """
    C, H, sp = cfg.num_classes, cfg.feature_dim // 2, cfg.snippet_seconds
    appearance, context, motion = _unit(rng, C, H), _unit(rng, C, H), _unit(rng, C, H)
    camera = _unit(rng, cfg.num_camera, H)
    if cfg.family_similarity > 0 and cfg.family_size > 1:
        family = np.arange(C) // cfg.family_size
        nf = int(family.max()) + 1
        appearance, motion, context = (_family_mix(p, _unit(rng, nf, H)[family], cfg.family_similarity)
                                       for p in (appearance, motion, context))
    # class_style (VCL's knob): per-video prototypes around the class means, from a child generator
    style = rng.spawn(1)[0] if cfg.class_style > 0 else None
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
        app_v, mot_v = appearance, motion
        if style is not None:
            app_v, mot_v = (_family_mix(p, _unit(style, C, H), cfg.class_style) for p in (appearance, motion))
        for c in np.flatnonzero(act.any(axis=1)):
            rgb += np.outer(cfg.appearance_strength * act[c], app_v[c])
            flow += np.outer(cfg.motion_strength * act[c], mot_v[c])
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
