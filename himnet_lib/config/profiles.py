"""Named profiles and readings of the paper, and building a run's config from them."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from himnet_lib.config.run import (
    RunConfig,
    _assign,
    _qualify,
    apply_overrides,
)
from himnet_lib.utils.errors import HimnetError

# Named readings of the paper (README / docs: "Where the paper is ambiguous"). A reading is a set of
# overrides applied right after the profile and before any other override, so a table row or
# ``--set`` can still change each key. ``literal`` is Eq. 1-11 as printed. ``lineage`` adds what the
# authors' previous code base (CO2-Net, itself from HAM-Net) always does and the paper does not list:
#   * model.supp = include_min: training Ŝ = A·(S - min_c S) + min_c S (CO2-Net criterion; its
#     tester, and ours, use the plain product at inference);
#   * loss.mil_target = normalized: label-normalised MIL target [y, β]/(Σy + β) without 1/(C+1)
#     (CO2-Net/HAM-Net topkloss);
#   * loss.extra_terms = (norm, mu): λ_norm·mean attention over the fused and per-modality
#     attentions (CO2-Net α1 = 0.8) and the RGB/flow attention mutual learning (CO2-Net α4 = 1).
# CO2-Net's guide term is not part of the lineage reading: Table 4 treats L_guide as the
# alternative that L_SCL replaces.
READINGS: dict[str, dict[str, Any]] = {
    "literal": {"model.supp": "product", "loss.mil_target": "paper", "loss.extra_terms": ()},
    "lineage": {"model.supp": "include_min", "loss.mil_target": "normalized",
                "loss.extra_terms": ("norm", "mu")},
}


# Named profiles: overrides of the defaults above (which are the paper's THUMOS14 settings).
PROFILES: dict[str, dict[str, Any]] = {
    # Seconds, for tests: tiny model and few iterations on the synthetic `smoke` preset.
    "smoke": {
        "train.iterations": 24, "train.batch_size": 6, "train.n_pairs": 2, "train.seq_len": 48,
        "train.lr": 1e-3, "train.log_interval": 4, "train.checkpoint_interval": 8,
        "model.attention_hidden": 16, "model.head_hidden": 32,
        "loss.topk_ratio": 8.0,
    },
    # The main job's default on the synthetic `demo` benchmark (128-d features). Reading, read-out,
    # lr, λ_norm (default 0.8), iterations and loss.balance are chosen on a validation fold of the
    # TRAINING videos, never on the test videos (notebooks 09 and 11, docs/findings.md).
    "demo": {
        "reading": "lineage",
        "train.iterations": 500, "train.batch_size": 10, "train.n_pairs": 3, "train.seq_len": 192,
        "train.lr": 1e-3, "train.log_interval": 25, "train.checkpoint_interval": 250,
        # bf16 autocast where the CPU/GPU computes bf16 natively (AMX, AVX512-BF16, CUDA sm80+), float32
        # elsewhere, where bf16 products fall back to slow kernels (docs/performance.md, ambiguities T4).
        "train.amp": "auto",
        "model.attention_hidden": 64, "model.head_hidden": 128,
        "localize.attention_norm": "minmax",
        # Eq. 11's weights as printed, chosen over loss.balance=reading (tables/balance_choice.md)
        "loss.balance": "printed",
    },
    # The paper's THUMOS14 settings (Sec. 4.1): 2048-d I3D, T = 560, k = 80, batch 10 with 3 pairs,
    # Adam lr 3e-5 wd 1e-3, 10,000 iterations, lambda1 = 1, lambda2 = 0.01, alpha = 4.
    # Precision is ours (the paper does not state it): bf16 autocast with float32 master weights
    # and float32 losses where bf16 is native ("auto"), float32 elsewhere (docs/performance.md).
    # Always float32: --set train.amp=none; always bf16: train.amp=bf16. Fused Adam as in every
    # profile (one optimizer code path); --set train.fused_adam=false for Adam's loop.
    "thumos14": {"train.amp": "auto"},
    # ActivityNet 1.3 (Sec. 4.1): T = 60, k = 6, 20,000 iterations, otherwise as THUMOS14.
    "activitynet13": {
        "train.amp": "auto",
        "train.iterations": 20_000, "train.seq_len": 60, "loss.topk_ratio": 10.0,
        "localize.class_topk_ratio": 10.0,
        "train.checkpoint_interval": 1000,
        "loss.balance_seq_len": 60,  # λ2 = 0.01 is the paper's at its ActivityNet T (loss.balance=reading)
    },
}


def profile_reading(name: str) -> str:
    """The reading a profile uses unless another is asked for ("literal" when it names none)."""
    return str(PROFILES.get(name, {}).get("reading", "literal"))


def profile_config(name: str, reading: str | None = None) -> RunConfig:
    """The profile's settings with a reading applied (default: the profile's own ``reading``)."""
    if name not in PROFILES:
        raise HimnetError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    cfg = RunConfig(profile=name)
    prof = {k: v for k, v in PROFILES[name].items() if k != "reading"}
    reading = reading or profile_reading(name)
    if reading not in READINGS:
        raise HimnetError(f"unknown reading {reading!r}; choose one of {', '.join(READINGS)}")
    for key, value in prof.items():
        _assign(cfg, key, value)
    cfg.reading = reading
    for key, value in READINGS[reading].items():
        _assign(cfg, key, value)
    return cfg


def build_config(profile: str, overrides: Mapping[str, Any] | None = None,
                 reading: str | None = None) -> RunConfig:
    """Profile, then its reading (``reading``, or an override ``"reading"``, or the profile's
    default), then the remaining overrides."""
    over = dict(overrides or {})
    reading = over.pop("reading", None) or reading
    cfg = apply_overrides(profile_config(profile, reading), over)
    if cfg.train.model != "himnet":
        # A baseline trains its own objective unless loss terms are asked for; the reading's
        # additions are HiM-Net's and do not apply to it.
        if not any(_qualify(k) == "loss.terms" for k in over):
            cfg.loss = dataclasses.replace(cfg.loss, terms=("mil",))
        cfg.loss = dataclasses.replace(cfg.loss, extra_terms=())
    return cfg
