"""Annotations of the synthetic benchmark: videos, their classes and instances."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from himnet_lib.datasets.synthetic.presets import (
    SyntheticConfig,
)


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


def _overlapping(cfg: SyntheticConfig, segs: np.ndarray, cls: np.ndarray, duration: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``overlap_instance_prob``: after a share of the instances, an instance of the same class that
    starts 30-90 % into it with its own length (seconds after ``time_scale``, rounded as the rest)."""
    follow = rng.random(len(segs)) < cfg.overlap_instance_prob
    if not follow.any():
        return segs, cls
    base = segs[follow]
    start = base[:, 0] + rng.uniform(0.3, 0.9, size=len(base)) * (base[:, 1] - base[:, 0])
    length = np.clip(np.exp(rng.normal(cfg.log_length_mean, cfg.log_length_sd, size=len(base))),
                     *cfg.length_range) * cfg.time_scale
    extra = np.stack([start, start + length], axis=1) / cfg.time_scale  # _finalize_segments scales again
    return (np.concatenate([segs, _finalize_segments(cfg, extra, duration)]),
            np.concatenate([cls, cls[follow]]))


def _train_ambiguous(cfg: SyntheticConfig, names: list[str], subsets: list[str], durations: list[float],
                     rng: np.random.Generator) -> list[tuple[str, float, float]]:
    """``train_ambiguous_rate``: ambiguous segments in the training videos, Poisson with that rate
    per minute of real time, lengths as the test videos' ambiguous regions."""
    out = []
    for i in np.flatnonzero(np.asarray(subsets) != "test"):
        k = int(rng.poisson(cfg.train_ambiguous_rate * durations[i] / cfg.time_scale / 60.0))
        if not k:
            continue
        ln = np.clip(np.exp(rng.normal(*cfg.ambiguous_log_length, size=k)) * cfg.time_scale, 0.3,
                     0.5 * durations[i])
        st = rng.uniform(0, durations[i] - ln)
        for s, e in sorted(zip(np.round(st, 1), np.round(st + ln, 1))):
            out.append((names[i], float(s), float(max(e, s + 0.1))))
    return out


def generate_annotations(cfg: SyntheticConfig, rng: np.random.Generator) -> SyntheticAnnotations:
    """Ground truth of all videos (consumes ``rng`` before any feature is drawn). The mechanism knobs
    ``overlap_instance_prob`` and ``train_ambiguous_rate`` draw from a child of ``rng`` (only when
    set), so the rest of the annotations are those of the knobs' defaults."""
    knob = rng.spawn(1)[0] if cfg.overlap_instance_prob > 0 or cfg.train_ambiguous_rate > 0 else None
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
        if knob is not None and cfg.overlap_instance_prob > 0:
            segs, cls = _overlapping(cfg, segs, cls, dur_s, knob)
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

    if knob is not None and cfg.train_ambiguous_rate > 0:
        ambiguous += _train_ambiguous(cfg, names, subsets, durations, knob)

    classes = [f"Action{c:02d}" for c in range(C)]
    return SyntheticAnnotations(classes=classes, names=names, subsets=subsets, durations=np.asarray(durations),
                                segments=segments, segment_classes=seg_classes, labels_all=labels_all,
                                primary=primary, ambiguous=ambiguous)


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
