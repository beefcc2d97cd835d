"""The power and the simulated behaviour of a group-sequential design (:mod:`.sequential`): the
normal-theory power it promises, the power of its t-version, the cap that reaches a power, and a
vectorised simulation of its verdicts under a true effect (the unit test's null and planted cases).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from himnet_lib.study import verdicts as _v
from himnet_lib.study.sequential import (
    Design,
    block_t_stats,
    boundaries,
    look_correlation,
    mvn_box,
    t_quantiles,
)

__all__ = ["SimulationResult", "simulate", "t_power", "design_power", "cap_for_power", "looks_for", "T_POWER_DRAWS",
           "T_POWER_SEED"]

#: Draws behind design_power(method="t").
T_POWER_DRAWS = 200_000
T_POWER_SEED = 54321


@dataclass(frozen=True)
class SimulationResult:
    """Operating characteristics from ``simulate``.

    rates: verdict label -> fraction of simulations ending with it;
    mean_n: mean seeds used; excludes_zero_rate: fraction whose final CI
    (at the stopping look) excludes 0; excludes_zero_any_look: fraction whose
    repeated CI excludes 0 at some look, ignoring the stopping rule (the pure
    RCI property, <= alpha under H0 in normal theory); stop_look_rates:
    fraction stopping at each look; n_sim.
    """
    rates: dict
    mean_n: float
    excludes_zero_rate: float
    excludes_zero_any_look: float
    stop_look_rates: tuple
    n_sim: int = field(default=0)


def simulate(design: Design, true_effect: float, sd: float,
             paper_effect: float = math.nan, kind: str = "superiority",
             margin: Optional[float] = None, n_sim: int = 20_000,
             rng: Optional[np.random.Generator] = None,
             known_sd: bool = False) -> SimulationResult:
    """Monte-Carlo operating characteristics of ``run_sequential``.

    Draws an (n_sim, n_K) matrix of N(true_effect, sd^2) seed differences,
    forms each look's mean and sd (ddof=1) over the first n_k columns,
    the repeated CIs (t-version, or z-version with the true sd when
    ``known_sd``), vectorised verdicts, and applies the stop-at-first-
    decisive-verdict rule.  Everything is vectorised over simulations.
    """
    rng = np.random.default_rng() if rng is None else rng
    looks = design.looks
    K = len(looks)
    x = rng.normal(true_effect, sd, size=(n_sim, looks[-1]))
    lows = np.empty((n_sim, K))
    highs = np.empty((n_sim, K))
    mult = boundaries(design) if known_sd else t_quantiles(design)
    for k, n in enumerate(looks):
        block = x[:, :n]
        m = block.mean(axis=1)
        s = sd if known_sd else block.std(axis=1, ddof=1)
        half = mult[k] * s / math.sqrt(n)
        lows[:, k] = m - half
        highs[:, k] = m + half
    codes = _v.judge_codes(lows, highs, paper_effect, kind, margin)
    inconclusive = _v.VERDICTS.index(_v.INCONCLUSIVE)
    decisive = codes != inconclusive
    stop = np.where(decisive.any(axis=1), decisive.argmax(axis=1), K - 1)
    rows = np.arange(n_sim)
    final = codes[rows, stop]
    excl0 = (lows > 0) | (highs < 0)
    counts = np.bincount(final, minlength=len(_v.VERDICTS))
    return SimulationResult(
        rates={lab: float(c) / n_sim for lab, c in zip(_v.VERDICTS, counts)},
        mean_n=float(np.asarray(looks)[stop].mean()),
        excludes_zero_rate=float(excl0[rows, stop].mean()),
        excludes_zero_any_look=float(excl0.any(axis=1).mean()),
        stop_look_rates=tuple(float(c) / n_sim
                              for c in np.bincount(stop, minlength=K)),
        n_sim=n_sim,
    )


def _power_given(c, looks, effect_over_sd) -> float:
    mu = effect_over_sd * np.sqrt(np.asarray(looks, dtype=float))
    c = np.asarray(c, dtype=float)
    return 1.0 - mvn_box(-c, c, look_correlation(looks), mean=mu)


def t_power(design: Design, effect: float, sd: float,
            draws: int = T_POWER_DRAWS, seed: int = T_POWER_SEED) -> float:
    """Power of the design's t-version: P(|T_k| >= q_k for some k) when the
    seeds are N(effect, sd^2), estimated from ``draws`` exact draws of the t
    statistics (``block_t_stats``, fixed seed; Monte-Carlo SE
    sqrt(p(1-p)/draws), 0.0009 at p = 0.8 with the default draws)."""
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError("sd must be finite and > 0")
    rng = np.random.default_rng(seed)
    T = np.abs(block_t_stats(design.looks, effect / sd, draws, rng))
    return float((T >= np.asarray(t_quantiles(design))).any(axis=1).mean())


def design_power(design: Design, effect: float, sd: float,
                 method: str = "normal") -> float:
    """Probability that the repeated CI excludes 0 at some look when the
    true mean difference is ``effect`` (stopping rule ignored).

    method="normal" (known sd): Z_k ~ N(effect sqrt(n_k) / sd, 1) jointly
    normal with corr(Z_i, Z_j) = sqrt(n_i / n_j);
    power = 1 - P(|Z_k| < c_k for all k) (``scipy.stats.multivariate_normal``
    .cdf).  This is the power the z design promises; the t-version with few
    seeds has less (heavier-tailed multipliers q_k > c_k).
    method="t": the t-version's power by exact simulation (``t_power``).
    """
    if method == "t":
        return t_power(design, effect, sd)
    if method != "normal":
        raise ValueError("method must be 'normal' or 't'")
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError("sd must be finite and > 0")
    return _power_given(boundaries(design), design.looks, effect / sd)


def looks_for(fractions, N) -> tuple:
    looks, prev = [], 1
    for f in fractions:
        n = max(2, prev + 1, int(math.ceil(f * N - 1e-9)))
        looks.append(n)
        prev = n
    return tuple(looks)


def cap_for_power(fractions: Sequence[float], alpha: float, effect: float,
                  sd: float, power: float = 0.8,
                  spending: str = "obrien-fleming", method: str = "normal",
                  t_version: str = "calibrated",
                  max_cap: int = 10_000) -> Optional[Design]:
    """Smallest cap N whose design (looks ceil(f_k N), kept strictly
    increasing and >= 2; the last fraction must be 1) reaches ``power``.

    method="normal": by ``design_power`` (known sd).  Solves power(N) =
    target with the boundaries of the exact fractions (root finder over a
    continuous N), then checks the rounded integer designs upwards from
    floor(N) - 2 (rounding moves the boundaries a little).
    method="t": by the t-version's simulated power (``t_power``), searching
    upwards from the normal-theory cap (the t-version never needs fewer
    seeds) by doubling steps and then bisection; the simulated power is
    monotone in N only up to its Monte-Carlo error (~0.001).
    Returns the Design, or None if effect is 0/NaN or ``max_cap`` does not
    suffice.
    """
    from scipy import optimize

    fr = tuple(float(f) for f in fractions)
    if not fr or abs(fr[-1] - 1.0) > 1e-12 or any(
            b <= a for a, b in zip(fr, fr[1:])) or fr[0] <= 0:
        raise ValueError("fractions must increase strictly to 1")
    if method not in ("normal", "t"):
        raise ValueError("method must be 'normal' or 't'")
    if not (math.isfinite(effect) and effect != 0 and math.isfinite(sd)
            and sd > 0):
        return None
    make = lambda N: Design(looks_for(fr, N), alpha, spending,  # noqa: E731
                            t_version)
    # continuous approximation: boundaries depend only on the fractions
    scale = 1_000_000
    ref = Design(tuple(int(round(f * scale)) for f in fr), alpha, spending)
    c = boundaries(ref)
    d = abs(effect) / sd
    pw = lambda N: _power_given(c, [f * N for f in fr], d) - power  # noqa
    if pw(max_cap) < 0:
        return None
    lo = 1e-6
    n_star = optimize.brentq(pw, lo, max_cap, xtol=1e-3) if pw(lo) < 0 else 2
    N = max(int(math.floor(n_star)) - 2, len(fr) + 1, 2)
    found = None
    while N <= max_cap:
        des = make(N)
        if des.cap == N and design_power(des, effect, sd) >= power:
            found = des
            break
        N += 1
    if found is None or method == "normal":
        return found

    ok = lambda N: t_power(make(N), effect, sd) >= power  # noqa: E731
    if ok(N):
        return make(N)
    bad, step = N, 1                  # invariant: not ok(bad)
    while True:
        good = min(bad + step, max_cap)
        if ok(good):
            break
        if good == max_cap:
            return None
        bad, step = good, step * 2
    while good - bad > 1:
        mid = (bad + good) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return make(good)
