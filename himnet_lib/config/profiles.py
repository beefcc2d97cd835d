"""Named profiles and readings of the paper, and building a run's config from them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from himnet_lib.config.run import RunConfig, apply_overrides, assign, qualify
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


TIOU_PROTOCOLS: dict[str, tuple[float, ...]] = {
    # THUMOS14's protocol: mAP at tIoU 0.1:0.1:0.7 (Table 3's AVG is their mean)
    "thumos14": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
    # ActivityNet 1.3's: tIoU 0.5:0.05:0.95
    "activitynet": (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
}
DATA_DRAWS = ("fixed", "per-seed")
REAL_DATA = "data"  # the benchmark name of a profile that trains on the user's data (--data)


@dataclass(frozen=True)
class Profile:
    """A named way to run the study: one record holds all of it.

    ``overrides``: settings over the defaults (the paper's THUMOS14 settings), ``section.key`` ->
    value. ``reading``: the reading of the paper it uses unless another is asked for
    (:data:`READINGS`). ``benchmarks``: the synthetic presets it trains on, the first being its main
    benchmark (every claim is tested on each); empty for a profile on the user's data, whose one
    benchmark is named :data:`REAL_DATA`. ``step_seconds``: seconds per training step on one CPU
    core (the Slurm time limit's estimate, docs/cluster.md). ``selection``: (iterations, evaluation
    interval) of the schedule selection on the validation fold. ``tiou``: its tIoU protocol, a key
    of :data:`TIOU_PROTOCOLS`, declared (not inferred from the class count). ``data_draws``:
    "fixed", every seed trains on draw 0 of each synthetic benchmark; or "per-seed", seed s trains
    and is scored on draw s (the generator's seed), so that the spread over seeds holds the
    benchmark's sampling as well as training's, and a verdict speaks of the benchmark, not of one
    draw of it. ``looks``: the seed counts at which the sequential design of the claims table looks
    at each primary test, adding seeds only to the primaries still inconclusive
    (:mod:`himnet_lib.study.claims_stages`); empty: one look, at the pilot's seeds. ``seeds``: the
    pilot's seeds (Table 3's rows and the placebo, every other row), ``himnet reproduce``'s default.
    """

    name: str
    overrides: Mapping[str, Any]
    step_seconds: float
    reading: str = "literal"
    benchmarks: tuple[str, ...] = ()
    selection: tuple[int, int] = (1500, 250)
    tiou: str = "thumos14"
    data_draws: str = "fixed"
    looks: tuple[int, ...] = ()
    seeds: tuple[int, int] = (5, 3)

    def __post_init__(self) -> None:
        if list(self.looks) != sorted(set(self.looks)) or any(n < 2 for n in self.looks):
            raise ValueError(f"profile {self.name!r}: looks must be increasing seed counts >= 2")
        if self.data_draws not in DATA_DRAWS:
            raise ValueError(f"profile {self.name!r}: data_draws must be one of {DATA_DRAWS}")
        if self.data_draws == "per-seed" and not self.benchmarks:
            raise ValueError(f"profile {self.name!r}: per-seed draws need synthetic benchmarks")
        if self.reading not in READINGS:
            raise ValueError(f"profile {self.name!r}: unknown reading {self.reading!r}")
        if self.tiou not in TIOU_PROTOCOLS:
            raise ValueError(f"profile {self.name!r}: unknown tIoU protocol {self.tiou!r}")

    @property
    def benchmark_names(self) -> tuple[str, ...]:
        """Its benchmarks' names, the main one first (:data:`REAL_DATA` for the user's data)."""
        return self.benchmarks or (REAL_DATA,)

    @property
    def main_benchmark(self) -> str:
        return self.benchmark_names[0]

    @property
    def synthetic(self) -> bool:
        """Whether it trains on synthetic presets it generates (else on the user's ``--data``)."""
        return bool(self.benchmarks)

    def draw(self, seed: int) -> int:
        """The draw of the synthetic benchmarks that training seed ``seed`` trains on."""
        return int(seed) if self.data_draws == "per-seed" else 0

    @property
    def tiou_thresholds(self) -> tuple[float, ...]:
        return TIOU_PROTOCOLS[self.tiou]


PROFILES: dict[str, Profile] = {p.name: p for p in (
    # Seconds, for tests: tiny model and few iterations on the synthetic `smoke` presets.
    Profile("smoke", {
        "train.iterations": 24, "train.batch_size": 6, "train.n_pairs": 2, "train.seq_len": 48,
        "train.lr": 1e-3, "train.log_interval": 4, "train.checkpoint_interval": 8,
        "model.attention_hidden": 16, "model.head_hidden": 32,
        "loss.topk_ratio": 8.0,
    }, step_seconds=0.02, benchmarks=("smoke", "smoke-b"), selection=(48, 12)),
    # The main job's default on the synthetic `demo` benchmarks (128-d features). Reading, read-out,
    # lr, λ_norm (default 0.8), iterations and loss.balance are chosen on a validation fold of the
    # TRAINING videos, never on the test videos (notebooks 09 and 11, docs/findings.md).
    Profile("demo", {
        "train.iterations": 500, "train.batch_size": 10, "train.n_pairs": 3, "train.seq_len": 192,
        "train.lr": 1e-3, "train.log_interval": 25, "train.checkpoint_interval": 250,
        # bf16 autocast where the CPU/GPU computes bf16 natively (AMX, AVX512-BF16, CUDA sm80+), float32
        # elsewhere, where bf16 products fall back to slow kernels (docs/performance.md, ambiguities T4).
        "train.amp": "auto",
        "model.attention_hidden": 64, "model.head_hidden": 128,
        "localize.attention_norm": "minmax",
        # Eq. 11's weights as printed, chosen over loss.balance=reading (tables/balance_choice.md)
        "loss.balance": "printed",
    }, step_seconds=0.06, reading="lineage", benchmarks=("demo", "demo-b"),
        # twice the demo schedule, so that the curves show whether 500 iterations have converged
        selection=(1000, 250)),
    # The study that backs the findings: demo's settings and benchmarks, with the seeds that each claim
    # needs chosen by its sequential design (docs/findings.md) and the full mechanism sweep; hours on
    # 2 cores, resumable (himnet reproduce --profile study).
    Profile("study", {
        "train.iterations": 500, "train.batch_size": 10, "train.n_pairs": 3, "train.seq_len": 192,
        "train.lr": 1e-3, "train.log_interval": 25, "train.checkpoint_interval": 250, "train.amp": "auto",
        "model.attention_hidden": 64, "model.head_hidden": 128, "localize.attention_norm": "minmax",
        "loss.balance": "printed",
    }, step_seconds=0.06, reading="lineage", benchmarks=("demo", "demo-b"), selection=(1000, 250),
        data_draws="per-seed", looks=(5, 10, 20, 30), seeds=(5, 5)),
    # The paper's THUMOS14 settings (Sec. 4.1): 2048-d I3D, T = 560, k = 80, batch 10 with 3 pairs,
    # Adam lr 3e-5 wd 1e-3, 10,000 iterations, lambda1 = 1, lambda2 = 0.01, alpha = 4.
    # Precision is ours (the paper does not state it): bf16 autocast with float32 master weights
    # and float32 losses where bf16 is native ("auto"), float32 elsewhere (docs/performance.md).
    # Always float32: --set train.amp=none; always bf16: train.amp=bf16. Fused Adam as in every
    # profile (one optimizer code path); --set train.fused_adam=false for Adam's loop.
    Profile("thumos14", {"train.amp": "auto"}, step_seconds=8.0),
    # ActivityNet 1.3 (Sec. 4.1): T = 60, k = 6, 20,000 iterations, otherwise as THUMOS14.
    Profile("activitynet13", {
        "train.amp": "auto",
        "train.iterations": 20_000, "train.seq_len": 60, "loss.topk_ratio": 10.0,
        "localize.class_topk_ratio": 10.0,
        "train.checkpoint_interval": 1000,
        "loss.balance_seq_len": 60,  # λ2 = 0.01 is the paper's at its ActivityNet T (loss.balance=reading)
    }, step_seconds=1.0, tiou="activitynet"),
)}


def get_profile(name: str) -> Profile:
    """The profile named ``name``: one :class:`HimnetError` line naming the known ones otherwise."""
    if name not in PROFILES:
        raise HimnetError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def profile_names() -> tuple[str, ...]:
    return tuple(PROFILES)


def profile_reading(name: str) -> str:
    """The reading a profile uses unless another is asked for."""
    return get_profile(name).reading


def profile_config(name: str, reading: str | None = None) -> RunConfig:
    """The profile's settings with a reading applied (default: the profile's own ``reading``)."""
    prof = get_profile(name)
    cfg = RunConfig(profile=name)
    reading = reading or prof.reading
    if reading not in READINGS:
        raise HimnetError(f"unknown reading {reading!r}; choose one of {', '.join(READINGS)}")
    for key, value in prof.overrides.items():
        assign(cfg, key, value)
    cfg.reading = reading
    for key, value in READINGS[reading].items():
        assign(cfg, key, value)
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
        if not any(qualify(k) == "loss.terms" for k in over):
            cfg.loss = dataclasses.replace(cfg.loss, terms=("mil",))
        cfg.loss = dataclasses.replace(cfg.loss, extra_terms=())
    return cfg
