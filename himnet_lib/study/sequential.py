"""Group-sequential seed counts with repeated confidence intervals.

Design: cumulative seed counts n_1 < ... < n_K (the looks) and a two-sided
error rate alpha spent over the information fractions t_k = n_k / n_K by a
Lan-DeMets spending function alpha*(t) (cumulative two-sided type-I error
allowed by look k).  Two-sided symmetric z boundaries c_k solve, under H0
with Z_k the standardised mean after n_k seeds and
corr(Z_i, Z_j) = sqrt(n_i / n_j) (i <= j),

    P(|Z_1| < c_1, ..., |Z_{k-1}| < c_{k-1}, |Z_k| >= c_k)
        = alpha*(t_k) - alpha*(t_{k-1}).

Repeated confidence intervals (Jennison & Turnbull 1989; J&T 2000 ch. 9):
mean_k +- c_k sigma / sqrt(n_k) covers the true effect at *all* looks
simultaneously with probability >= 1 - alpha, so any stopping rule based on
them keeps the 1 - alpha guarantee.  With few seeds sigma is unknown and a
t-version is used: mean_k +- q_k s_k / sqrt(n_k), s_k the sample sd.

* t_version="nominal" (J&T 2000 sec. 11.4, "significance-level approach"):
  q_k = t_{n_k-1}^{-1}(Phi(c_k)), the t quantile at the same nominal two-sided
  level p_k = 2(1 - Phi(c_k)) as c_k.  Each look's marginal level is exact,
  but the t statistics are less correlated than the Z's, so the overall
  error is above alpha with small n_k: by simulation (n_sim 50,000, alpha
  0.05) Pocock looks (3, 6, 10) and (5, 10, 20) give 0.054-0.056,
  O'Brien-Fleming (3, 6, 10) and (5, 10, 20) 0.051-0.052.
* t_version="calibrated" (default): q_k = t_{n_k-1}^{-1}(1 - gamma p_k / 2)
  with one factor gamma chosen so that the t-version's overall type-I error
  is alpha.  The sequence (T_1..T_K) of t statistics is pivotal under H0
  (its law is free of the mean and sigma), so gamma is the alpha-quantile of
  R = min_k p^t_k / p_k (p^t_k the two-sided t p-value of T_k), estimated
  from CALIBRATION_DRAWS exact draws with a fixed seed (relative Monte-Carlo
  error of the attained alpha about 1/sqrt(alpha * draws): 0.4 % at 0.05,
  2 % at 0.05/19).  The spending shape across looks is kept as in normal
  theory; only the overall level is corrected.

Spending functions (``SPENDINGS``):

* "obrien-fleming" (default): Lan-DeMets O'Brien-Fleming type with alpha/2
  spent on each side, alpha*(t) = 2 * [2 - 2 Phi(z_{1-alpha/4} / sqrt(t))].
  This is the convention of ld98/ldbounds (``alpha=c(a/2, a/2)``; checked
  against a printed ldbounds output in the tests) and of gsDesign's sfLDOF
  used with the one-sided alpha, and the one behind the commonly tabulated
  K=3 equally spaced values at alpha=0.05: 3.710, 2.511, 1.993.
* "obrien-fleming-total": the same function applied to the total alpha,
  alpha*(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) (K=3, alpha=0.05: 3.395,
  2.407, 2.015).  Spends a little more early, a little less at the end.
* "pocock": Lan-DeMets Pocock type, alpha*(t) = alpha ln(1 + (e - 1) t)
  (linear in alpha, so per-side and total conventions coincide).

Numerics: the crossing probabilities are multivariate-normal rectangle
probabilities computed with ``scipy.stats.multivariate_normal.cdf`` (Genz's
quasi-Monte Carlo algorithm with lower/upper limits, fixed rng, abseps 1e-10)
and solved for c_k with ``scipy.optimize.brentq`` on the log scale, so the
tiny early increments of O'Brien-Fleming spending are hit in relative terms.

Stopping rule (``run_sequential``/``simulate``): stop at the first look whose
repeated CI gets a decisive verdict from ``verdicts.judge``.  With a paper
number this includes "smaller than claimed (not distinguishable from 0)"
(the CI excludes the claim), so such runs stop before they could exclude 0;
the simultaneous coverage of the repeated CIs still bounds every error by
alpha.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional, Sequence, Union

import numpy as np

from himnet_lib.study import verdicts as _v

__all__ = [
    "SPENDINGS", "T_VERSIONS", "Design", "alpha_spent", "boundaries", "nominal_levels", "t_calibration",
    "t_quantiles", "look_levels", "repeated_interval", "SequentialResult", "run_sequential", "look_correlation",
    "mvn_box", "block_t_stats",
]

SPENDINGS = ("obrien-fleming", "obrien-fleming-total", "pocock")

_MVN_ABSEPS = 1e-10
_MVN_RELEPS = 1e-7
_MVN_SEED = 20240917
T_VERSIONS = ("calibrated", "nominal")
#: Exact H0 draws used to calibrate the t-version (see module docstring).
CALIBRATION_DRAWS = 1_000_000
CALIBRATION_SEED = 12345


@dataclass(frozen=True)
class Design:
    """A group-sequential design.

    looks: strictly increasing cumulative seed counts, each >= 2 (the
    t-version needs df = n_k - 1 >= 1), e.g. (5, 10, 20); alpha: total
    two-sided error rate of the repeated CIs (e.g. 0.05 / 19); spending: one
    of ``SPENDINGS``; t_version: "calibrated" (default) or "nominal", how
    the t multipliers are derived from the z boundaries (module docstring).
    """
    looks: tuple
    alpha: float
    spending: str = "obrien-fleming"
    t_version: str = "calibrated"

    def __post_init__(self):
        looks = tuple(int(n) for n in self.looks)
        if not looks or looks[0] < 2 or any(
                b <= a for a, b in zip(looks, looks[1:])):
            raise ValueError(f"looks must be strictly increasing ints >= 2, "
                             f"got {self.looks!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if self.spending not in SPENDINGS:
            raise ValueError(f"spending must be one of {SPENDINGS}")
        if self.t_version not in T_VERSIONS:
            raise ValueError(f"t_version must be one of {T_VERSIONS}")
        object.__setattr__(self, "looks", looks)
        object.__setattr__(self, "alpha", float(self.alpha))

    @property
    def cap(self) -> int:
        """n_K, the largest number of seeds the design may use."""
        return self.looks[-1]

    @property
    def fractions(self) -> tuple:
        """Information fractions t_k = n_k / n_K."""
        return tuple(n / self.looks[-1] for n in self.looks)


def alpha_spent(design: Design, t) -> np.ndarray:
    """Cumulative two-sided alpha spent at information fraction(s) t.

    obrien-fleming:        4 - 4 Phi(z_{1-alpha/4} / sqrt(t))
    obrien-fleming-total:  2 - 2 Phi(z_{1-alpha/2} / sqrt(t))
    pocock:                alpha ln(1 + (e - 1) t)
    (all equal 0 at t = 0 and alpha at t = 1).
    """
    from scipy import stats

    t = np.asarray(t, dtype=float)
    a = design.alpha
    with np.errstate(divide="ignore"):
        if design.spending == "obrien-fleming":
            return 4.0 * stats.norm.sf(stats.norm.isf(a / 4.0) / np.sqrt(t))
        if design.spending == "obrien-fleming-total":
            return 2.0 * stats.norm.sf(stats.norm.isf(a / 2.0) / np.sqrt(t))
    return a * np.log1p((math.e - 1.0) * t)


def look_correlation(looks) -> np.ndarray:
    n = np.asarray(looks, dtype=float)
    return np.sqrt(np.minimum.outer(n, n) / np.maximum.outer(n, n))


def mvn_box(lower, upper, cov, mean=None) -> float:
    from scipy import stats

    k = len(lower)
    mean = np.zeros(k) if mean is None else np.asarray(mean, dtype=float)
    if k == 1:
        s = math.sqrt(cov[0, 0])
        return float(stats.norm.cdf((upper[0] - mean[0]) / s)
                     - stats.norm.cdf((lower[0] - mean[0]) / s))
    return float(stats.multivariate_normal.cdf(
        np.asarray(upper, dtype=float), mean=mean, cov=cov,
        lower_limit=np.asarray(lower, dtype=float), maxpts=200_000 * k,
        abseps=_MVN_ABSEPS, releps=_MVN_RELEPS,
        rng=np.random.default_rng(_MVN_SEED)))


@functools.lru_cache(maxsize=256)
def _boundaries(looks: tuple, alpha: float, spending: str) -> tuple:
    from scipy import optimize, stats

    design = Design(looks, alpha, spending)
    spent = alpha_spent(design, design.fractions)
    inc = np.diff(np.r_[0.0, spent])
    corr = look_correlation(looks)
    c = [float(stats.norm.isf(inc[0] / 2.0))]
    for k in range(1, len(looks)):
        target = inc[k]
        prev = np.asarray(c)

        def cross(x, k=k, prev=prev):
            # P(|Z_i| < c_i, i < k; Z_k >= x), doubled by symmetry
            lo = np.r_[-prev, x]
            hi = np.r_[prev, np.inf]
            return 2.0 * mvn_box(lo, hi, corr[:k + 1, :k + 1])

        # crossing prob <= marginal 2(1 - Phi(x)): the marginal bound is an
        # upper bracket; a small x crosses with prob ~ P(continue) > target.
        x_hi = float(stats.norm.isf(target / 2.0))
        x_lo = 1e-3
        g = lambda x: math.log(max(cross(x), 1e-300)) - math.log(target)  # noqa
        if g(x_hi) >= 0:   # numerically no correlation benefit
            c.append(x_hi)
            continue
        c.append(float(optimize.brentq(g, x_lo, x_hi, xtol=1e-7)))
    return tuple(c)


def boundaries(design: Design) -> tuple:
    """Two-sided z boundaries (c_1, ..., c_K) of the design.

    c_1 = Phi^{-1}(1 - alpha*(t_1)/2); for k >= 2, c_k solves
    2 P(|Z_i| < c_i for i < k, Z_k >= c_k) = alpha*(t_k) - alpha*(t_{k-1})
    under H0 with corr(Z_i, Z_j) = sqrt(n_i/n_j) (the factor 2 is the
    symmetry of the two tails).  Probabilities by
    ``scipy.stats.multivariate_normal.cdf`` with lower limits (Genz QMC,
    fixed rng, abseps 1e-10, releps 1e-7), root by brentq on
    log(probability).  Cached per design.
    """
    return _boundaries(design.looks, design.alpha, design.spending)


def block_t_stats(looks, effect_over_sd, n, rng) -> np.ndarray:
    """(n, K) t statistics of N(effect_over_sd, 1) seeds at the looks, drawn
    exactly from per-block sufficient statistics: block j of m_j seeds has
    sum S_j ~ N(m_j d, m_j) and within-block sum of squares W_j ~
    chi2(m_j - 1), independent; at look k the sum is A_k = sum_{j<=k} S_j and
    the sum of squares about the mean is sum_{j<=k}(W_j + S_j^2/m_j) -
    A_k^2/n_k, so T_k = A_k / sqrt(n_k * SS_k / (n_k - 1))."""
    looks = np.asarray(looks, dtype=float)
    m = np.diff(np.r_[0.0, looks])
    S = rng.normal(m * effect_over_sd, np.sqrt(m), size=(n, len(m)))
    W = np.where(m > 1, rng.chisquare(np.maximum(m - 1, 1), size=(n, len(m))),
                 0.0)
    A = np.cumsum(S, axis=1)
    ss = np.cumsum(W + S * S / m, axis=1) - A * A / looks
    ss = np.maximum(ss, 0.0)
    return A / np.sqrt(looks * ss / (looks - 1.0))


@functools.lru_cache(maxsize=256)
def _t_calibration(looks: tuple, alpha: float, spending: str,
                   draws: int, seed: int) -> float:
    from scipy import stats

    c = np.asarray(_boundaries(looks, alpha, spending))
    p = 2.0 * stats.norm.sf(c)                       # nominal levels p_k
    df = np.asarray(looks, dtype=float) - 1.0
    rng = np.random.default_rng(seed)
    chunk = 250_000
    gmax = 8.0
    small = []                                       # R values below gmax
    done = 0
    while done < draws:
        n = min(chunk, draws - done)
        T = np.abs(block_t_stats(looks, 0.0, n, rng))
        # |T_k| >= q_k(gmax)  <=>  p^t_k <= gmax p_k; only those can matter
        qmax = stats.t.isf(np.minimum(gmax * p, 1.0) / 2.0, df)
        cand = (T >= qmax).any(axis=1)
        Tc = T[cand]
        r = (2.0 * stats.t.sf(Tc, df) / p).min(axis=1)
        small.append(r)
        done += n
    r = np.sort(np.concatenate(small))
    j = int(math.ceil(alpha * draws)) - 1            # alpha-quantile index
    if j >= r.size or r[j] >= gmax:
        raise RuntimeError("t calibration factor above its search range")
    return float(r[j])


def t_calibration(design: Design) -> float:
    """Factor gamma on the nominal levels of the t-version (1.0 for
    t_version="nominal").

    gamma = alpha-quantile of R = min_k p^t_k / p_k over CALIBRATION_DRAWS
    exact H0 draws of (T_1..T_K) (``block_t_stats``, seed
    CALIBRATION_SEED), p_k = 2(1 - Phi(c_k)), p^t_k = 2 t_{n_k-1}.sf(|T_k|).
    Then P_H0(|T_k| >= q_k for some k) = P(R <= gamma) = alpha with
    q_k = t_{n_k-1}^{-1}(1 - gamma p_k / 2).  gamma < 1 means the nominal
    t-version is liberal.  Cached per design.
    """
    if design.t_version == "nominal":
        return 1.0
    return _t_calibration(design.looks, design.alpha, design.spending,
                          CALIBRATION_DRAWS, CALIBRATION_SEED)


def nominal_levels(design: Design) -> tuple:
    """Nominal two-sided significance level of each look, 2(1 - Phi(c_k))."""
    from scipy import stats

    return tuple(float(2.0 * stats.norm.sf(c)) for c in boundaries(design))


def look_levels(design: Design) -> tuple:
    """The two-sided level of each look's t interval, gamma * p_k: what :func:`t_quantiles` uses
    (p_k itself for t_version="nominal")."""
    g = t_calibration(design)
    return tuple(g * p for p in nominal_levels(design))


def t_quantiles(design: Design) -> tuple:
    """t-version multipliers q_k = t_{n_k-1}^{-1}(1 - gamma p_k / 2), with
    p_k = 2(1 - Phi(c_k)) the nominal level of look k and gamma =
    ``t_calibration(design)`` (1 for t_version="nominal", which gives
    q_k = t_{n_k-1}^{-1}(Phi(c_k)))."""
    from scipy import stats

    g = t_calibration(design)
    return tuple(float(stats.t.isf(g * stats.norm.sf(c), n - 1))
                 for c, n in zip(boundaries(design), design.looks))


def repeated_interval(diffs, design: Design, look: int,
                      known_sd: Optional[float] = None):
    """Repeated confidence interval at look ``look`` (0-based).

    Uses the first n_k = design.looks[look] values of ``diffs``:
    mean_k +- q_k * s_k / sqrt(n_k), s_k the sample sd (ddof=1) and q_k
    from ``t_quantiles`` (t_{n_k-1}^{-1}(Phi(c_k)) for the nominal version,
    the calibrated level otherwise).  With ``known_sd``
    sigma the normal-theory interval mean_k +- c_k * sigma / sqrt(n_k).
    Returns (low, high).
    """
    d = np.asarray(diffs, dtype=float).ravel()
    n = design.looks[look]
    if d.size < n:
        raise ValueError(f"look {look} needs {n} diffs, got {d.size}")
    d = d[:n]
    m = float(d.mean())
    if known_sd is not None:
        half = boundaries(design)[look] * known_sd / math.sqrt(n)
    else:
        half = t_quantiles(design)[look] * float(d.std(ddof=1)) / math.sqrt(n)
    return (m - half, m + half)


class SequentialResult(NamedTuple):
    """verdict: a label of ``verdicts.VERDICTS``; look: 0-based index of the
    look that decided (or the last look evaluated); n: seeds used;
    interval: (low, high) repeated CI at that look."""
    verdict: str
    look: int
    n: int
    interval: tuple


def run_sequential(data: Union[Sequence[float], np.ndarray,
                               Callable[[int], Sequence[float]]],
                   design: Design, paper_effect: float = math.nan,
                   kind: str = "superiority",
                   margin: Optional[float] = None) -> SequentialResult:
    """Apply the stopping rule to observed paired differences.

    At look k = 0, 1, ... compute the repeated CI (``repeated_interval``) and
    ``verdicts.judge`` it; stop at the first look whose verdict is decisive
    (anything but "inconclusive"), else go on to the cap n_K.

    ``data`` is either the differences in seed order (only the first n_K are
    used) or a callable n -> at least n differences (the first n seeds).  If
    the array is too short for some look, evaluation ends at the last look it
    covers: an "inconclusive" result with n < design.cap then means "run
    more seeds".  Raises ValueError when even the first look is not covered.
    """
    if callable(data):
        get = data
    else:
        arr = np.asarray(data, dtype=float).ravel()

        def get(n):
            return arr[:n]
    result = None
    for k, n in enumerate(design.looks):
        d = np.asarray(get(n), dtype=float).ravel()
        if d.size < n:
            if result is None:
                raise ValueError(f"first look needs {n} diffs, got {d.size}")
            return result
        lo, hi = repeated_interval(d, design, k)
        label = _v.judge(lo, hi, paper_effect, kind, margin)
        result = SequentialResult(label, k, n, (lo, hi))
        if label != _v.INCONCLUSIVE:
            return result
    assert result is not None  # the design has at least one look
    return result


