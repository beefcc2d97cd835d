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

from dataclasses import dataclass, replace
from typing import Any

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

    # --- mechanism knobs (docs/synthetic_benchmark.md, "Mechanism knobs"): each plants the structure
    # one term exploits. Defaults are no-ops (no extra random number, same arithmetic), so every preset
    # keeps its bytes; a knob's draws come from a child generator (``rng.spawn``) that leaves the main
    # stream alone, so a variant shares the annotations and noise of its preset wherever the knob
    # does not act. CLL's knob is the existing ``hard_negative_frac`` (and ``family_similarity``). ---
    class_style: float = 0.0             # VCL: per-video class style. Each video draws its own appearance
                                         # and motion prototype of every class, sqrt(1 - s) class mean +
                                         # sqrt(s) a random direction (renormalized): two videos' prototypes
                                         # of one class have cosine ~1 - s, instances within a video share it.
    train_ambiguous_rate: float = 0.0    # SCL: ambiguous regions in TRAINING videos, segments per minute of
                                         # real time (Poisson; lengths and partial signal as the test ones):
                                         # snippets that are neither clear action nor clear background.
    overlap_instance_prob: float = 0.0   # Soft-NMS: share of instances followed by an overlapping instance of
                                         # the SAME class (starting 30-90 % into it, its own length), in every
                                         # video; per-class NMS must then keep near-duplicate proposals.

    def __post_init__(self) -> None:
        if not 0.0 <= self.class_style < 1.0:
            raise ValueError(f"class_style must be in [0, 1), got {self.class_style}")
        if self.train_ambiguous_rate < 0:
            raise ValueError(f"train_ambiguous_rate must be >= 0, got {self.train_ambiguous_rate}")
        for knob in ("overlap_instance_prob", "hard_negative_frac"):
            if not 0.0 <= getattr(self, knob) <= 1.0:
                raise ValueError(f"{knob} must be in [0, 1], got {getattr(self, knob)}")
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


































# The fields of generator version 1, always written to synthetic.json. Every later field defaults
# to a no-op and is written only when set, so the markers of the older presets keep their bytes.
VERSION_1_FIELDS = frozenset("""
    name num_classes num_train num_test feature_dim snippet_seconds time_scale min_instance_seconds
    log_duration_mean log_duration_sd duration_range instances_per_minute count_dispersion log_length_mean
    log_length_sd length_range max_coverage gap_concentration nested nested_weight cooccur cooccur_prob
    cooccur_instance_prob second_class_prob second_class_share label_noise_frac ambiguous_video_frac
    ambiguous_per_video ambiguous_log_length appearance_strength context_strength context_base
    context_decay_snippets motion_strength scene_strength flow_scene_strength camera_strength num_camera
    instance_strength_sd boundary_ramp_snippets boundary_jitter_snippets dip_prob dip_range
    hard_negative_frac hard_negative_strength ambiguous_strength noise_sd""".split())






