"""Verdicts for paired seed-level comparisons of two training configurations.

Setting: two configurations ("rows") are trained under the same seeds
s = 1..n and each seed yields a paired difference d_s = metric(row A, s) -
metric(row B, s) (e.g. mAP points).  Each paper claim has one pre-registered
primary comparison whose confidence interval (CI) is judged against the effect
the paper claims.

Everything here is a pure function of its arguments; only the standard
library, numpy and scipy are imported (scipy lazily where it is heavy).

Verdict vocabulary (``VERDICTS``) and exact boundaries.  A CI is the *closed*
interval [low, high]:

* "contains x"  <=>  low <= x <= high          (closed at both ends)
* "excludes 0"  <=>  low > 0  or  high < 0     (strict: a CI that touches 0
  counts as containing 0, the conservative reading)

kind="superiority", paper effect e > 0:

=================================================== ==========================
label                                               condition
=================================================== ==========================
"reversed"                                          high < 0
"reproduces"                                        low > 0 and high >= e
"smaller than claimed"                              low > 0 and high < e
"smaller than claimed (not distinguishable from 0)" low <= 0 <= high, high < e
"inconclusive"                                      low <= 0 and high >= e
=================================================== ==========================

(the five rows partition the plane of (low, high) with low <= high).
e < 0 (a claimed harm) is the mirror image: the rules are applied to
(-high, -low, -e), so "reversed" then means the CI lies wholly above 0.
e == 0 or NaN falls back to kind="sign".

kind="sign" (no paper number; the claimed direction is + unless a finite
negative ``paper_effect`` is given, which mirrors it):
"reproduces" if low > 0, "reversed" if high < 0, else "inconclusive".

kind="non-inferiority" (claim "X >= Y", d = X - Y) with margin m > 0:
"reproduces" if low > -m (non-inferior), "reversed" if high < -m
(inferior), else "inconclusive".

An interval with a NaN end is always "inconclusive".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = [
    "REPRODUCES", "SMALLER", "SMALLER_NOT_ZERO", "REVERSED", "INCONCLUSIVE",
    "VERDICTS", "KINDS", "Verdict", "t_interval", "bootstrap_interval",
    "judge", "judge_codes", "verdict", "paired_t_power", "mde",
    "seeds_needed", "one_run_sign_probability",
]

REPRODUCES = "reproduces"
SMALLER = "smaller than claimed"
SMALLER_NOT_ZERO = "smaller than claimed (not distinguishable from 0)"
REVERSED = "reversed"
INCONCLUSIVE = "inconclusive"
#: All labels ``judge`` can return; ``judge_codes`` returns indices into it.
VERDICTS = (REPRODUCES, SMALLER, SMALLER_NOT_ZERO, REVERSED, INCONCLUSIVE)
#: Decisive labels (everything but "inconclusive").
DECISIVE = VERDICTS[:4]
KINDS = ("superiority", "sign", "non-inferiority")


# --------------------------------------------------------------------------
# intervals
# --------------------------------------------------------------------------
def _as_1d(diffs) -> np.ndarray:
    return np.asarray(diffs, dtype=float).ravel()


def t_interval(diffs, level: float = 0.95):
    """Two-sided Student-t interval of the mean paired difference.

    With n seeds, mean m = sum(d)/n, sample sd s (ddof=1), se = s/sqrt(n),
    df = n - 1 and q = t_{df}^{-1}((1 + level)/2):

        CI = [m - q*se, m + q*se]

    Returns ``(mean, low, high, se, df)``.  For n < 2 low, high and se are
    NaN (mean is NaN for n == 0, the single value for n == 1; df = n - 1,
    NaN for n == 0).  If s == 0 the interval has zero width at the mean.
    NaNs in ``diffs`` propagate.
    """
    from scipy import stats

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    d = _as_1d(diffs)
    n = d.size
    if n == 0:
        return (math.nan, math.nan, math.nan, math.nan, math.nan)
    mean = float(d.mean())
    if n < 2:
        return (mean, math.nan, math.nan, math.nan, float(n - 1))
    df = n - 1
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se == 0.0:
        return (mean, mean, mean, 0.0, float(df))
    q = float(stats.t.ppf(0.5 + level / 2.0, df))
    return (mean, mean - q * se, mean + q * se, se, float(df))


def bootstrap_interval(diffs, level: float = 0.95, n_resamples: int = 9999,
                       seed: int = 0, method: str = "BCa"):
    """Bootstrap interval of the mean over seeds (``scipy.stats.bootstrap``).

    Resamples the n seed-level differences with replacement (``n_resamples``
    times, ``numpy.random.default_rng(seed)``) and returns the two-sided
    ``level`` interval of the mean; ``method`` is passed to scipy, default
    "BCa" (bias-corrected and accelerated: percentiles
    Phi(z0 + (z0 + z_a)/(1 - a_hat (z0 + z_a))) of the bootstrap
    distribution, z0 from the share of resampled means below the mean, a_hat
    from the jackknife), "percentile" is the alternative.

    Degenerate cases, documented rather than raised: n < 3 -> (NaN, NaN)
    (too few distinct resamples for a meaningful interval); zero spread
    (all d equal) -> (mean, mean), the degenerate interval; a NaN in
    ``diffs`` -> (NaN, NaN).

    With few seeds the bootstrap under-covers (its spread uses the 1/n
    variance and normal-like quantiles), so it is a sensitivity check next to
    ``t_interval``, not a replacement.
    """
    from scipy import stats

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    d = _as_1d(diffs)
    if d.size < 3 or not np.all(np.isfinite(d)):
        return (math.nan, math.nan)
    if np.ptp(d) == 0.0:
        return (float(d[0]), float(d[0]))
    res = stats.bootstrap((d,), np.mean, n_resamples=n_resamples,
                          confidence_level=level, method=method,
                          vectorized=True, rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return (float(ci.low), float(ci.high))


# --------------------------------------------------------------------------
# verdicts
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """Machine-friendly verdict.

    label: one of ``VERDICTS``; excludes_zero: low > 0 or high < 0;
    excludes_paper: the paper effect lies outside [low, high] (None when
    no finite paper effect was given).
    """
    label: str
    excludes_zero: bool
    excludes_paper: Optional[bool]


def _check_kind(kind, margin):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "non-inferiority":
        if margin is None or not math.isfinite(margin) or margin <= 0:
            raise ValueError("non-inferiority needs a finite margin > 0")


def judge_codes(low, high, paper_effect=math.nan, kind="superiority",
                margin=None) -> np.ndarray:
    """Vectorised ``judge``: integer codes indexing ``VERDICTS``.

    ``low`` and ``high`` broadcast against each other; ``paper_effect`` and
    ``margin`` are scalars.  The rules are those of the module docstring.
    """
    _check_kind(kind, margin)
    lo = np.asarray(low, dtype=float)
    hi = np.asarray(high, dtype=float)
    lo, hi = np.broadcast_arrays(lo, hi)
    e = float(paper_effect) if paper_effect is not None else math.nan
    codes = np.full(lo.shape, VERDICTS.index(INCONCLUSIVE), dtype=np.int8)
    finite = ~(np.isnan(lo) | np.isnan(hi))

    if kind == "non-inferiority":
        m = float(margin)
        codes[finite & (lo > -m)] = VERDICTS.index(REPRODUCES)
        codes[finite & (hi < -m)] = VERDICTS.index(REVERSED)
        return codes

    if math.isfinite(e) and e < 0:          # claim of harm: mirror
        lo, hi, e = -hi, -lo, -e
    if kind == "sign" or not math.isfinite(e) or e == 0.0:
        codes[finite & (lo > 0)] = VERDICTS.index(REPRODUCES)
        codes[finite & (hi < 0)] = VERDICTS.index(REVERSED)
        return codes

    # superiority, e > 0 (after mirroring)
    above0 = lo > 0
    below0 = hi < 0
    reaches_e = hi >= e
    codes[finite & above0 & reaches_e] = VERDICTS.index(REPRODUCES)
    codes[finite & above0 & ~reaches_e] = VERDICTS.index(SMALLER)
    codes[finite & ~above0 & ~below0 & ~reaches_e] = \
        VERDICTS.index(SMALLER_NOT_ZERO)
    codes[finite & below0] = VERDICTS.index(REVERSED)
    return codes


def judge(low: float, high: float, paper_effect: float = math.nan,
          kind: str = "superiority", margin: Optional[float] = None) -> str:
    """Label the CI [low, high] against the paper's claimed effect.

    See the module docstring for the vocabulary (``VERDICTS``) and the exact
    closed/open boundaries.  Summary for superiority with e > 0:
    high < 0 -> "reversed"; low > 0 & high >= e -> "reproduces";
    low > 0 & high < e -> "smaller than claimed"; low <= 0 <= high & high < e
    -> "smaller than claimed (not distinguishable from 0)"; low <= 0 &
    high >= e -> "inconclusive".  e < 0 mirrors; e == 0/NaN or kind="sign"
    -> sign rule (low > 0 "reproduces", high < 0 "reversed");
    kind="non-inferiority": low > -m "reproduces", high < -m "reversed".
    """
    return VERDICTS[int(judge_codes(low, high, paper_effect, kind, margin))]


def verdict(low: float, high: float, paper_effect: float = math.nan,
            kind: str = "superiority",
            margin: Optional[float] = None) -> Verdict:
    """``judge`` plus the two flags: Verdict(label, excludes_zero,
    excludes_paper) with excludes_zero = (low > 0 or high < 0) and
    excludes_paper = not (low <= e <= high) (None when e is not finite)."""
    label = judge(low, high, paper_effect, kind, margin)
    ok = not (math.isnan(low) or math.isnan(high))
    excl0 = bool(ok and (low > 0 or high < 0))
    e = math.nan if paper_effect is None else float(paper_effect)
    excl_e = None if not math.isfinite(e) else bool(ok and not (low <= e <= high))
    return Verdict(label, excl0, excl_e)


# --------------------------------------------------------------------------
# power of the paired t-test
# --------------------------------------------------------------------------
def _nct_upper_quad(c: float, df: int, lam: float) -> float:
    """P(T > c), T ~ noncentral t(df, lam), by quadrature over the chi-square:
    T = (Z + lam)/sqrt(V/df) so P(T > c) = E_V[Phi(lam - c sqrt(V/df))]."""
    from scipy import integrate, stats

    g = lambda v: (stats.norm.cdf(lam - c * math.sqrt(v / df))  # noqa: E731
                   * stats.chi2.pdf(v, df))
    hi = stats.chi2.isf(1e-15, df)
    return float(integrate.quad(g, 0.0, hi, limit=200, epsabs=1e-13)[0])


def paired_t_power(effect_over_sd: float, n: int, alpha: float) -> float:
    """Power of the two-sided one-sample (paired) t-test.

    With df = n - 1, c = t_{df}^{-1}(1 - alpha/2), noncentrality
    lambda = (effect/sd) * sqrt(n) and T ~ noncentral t(df, lambda):

        power = P(T > c) + P(T < -c)

    evaluated with ``scipy.stats.nct``; the power is even in lambda, so
    |lambda| is used.  Where scipy's far tail returns NaN (it does for
    small df and large lambda) the term is recomputed by quadrature of
    E_V[Phi(lambda - c sqrt(V/df))], V ~ chi2(df), or set to 0 when it is
    below Phi(-|lambda|) < 1e-12 (P(T < -c) <= P(Z + |lambda| < 0)).
    """
    from scipy import stats

    df = n - 1
    c = float(stats.t.isf(alpha / 2.0, df))
    lam = abs(effect_over_sd) * math.sqrt(n)
    upper = float(stats.nct.sf(c, df, lam))
    if not math.isfinite(upper):
        upper = _nct_upper_quad(c, df, lam)
    lower = float(stats.nct.cdf(-c, df, lam))
    if not math.isfinite(lower):
        lower = 0.0 if stats.norm.sf(lam) < 1e-12 else \
            _nct_upper_quad(c, df, -lam)
    return upper + lower


def _check_alpha_power(alpha, power):
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not alpha < power < 1.0:
        raise ValueError(f"power must be in (alpha, 1), got {power!r}")


def mde(sd: float, n: int, alpha: float, power: float = 0.8) -> float:
    """Minimal detectable effect of the two-sided paired t-test.

    The smallest true mean difference delta with
    ``paired_t_power(delta/sd, n, alpha) == power`` (noncentral t, see
    ``paired_t_power``), found by a root finder on delta/sd and scaled by sd.
    NaN for n < 2 or non-finite sd; 0.0 for sd == 0.
    """
    from scipy import optimize

    _check_alpha_power(alpha, power)
    if n < 2 or sd is None or not math.isfinite(sd):
        return math.nan
    if sd < 0:
        raise ValueError("sd must be >= 0")
    if sd == 0:
        return 0.0
    f = lambda d: paired_t_power(d, n, alpha) - power  # noqa: E731
    hi = 1.0
    while f(hi) < 0:
        hi *= 2.0
        if hi > 1e8:
            return math.inf
    d = optimize.brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-10)
    return float(d * sd)


def seeds_needed(sd: float, effect: float, alpha: float, power: float = 0.8,
                 cap: int = 10_000) -> Optional[int]:
    """Smallest n >= 2 with ``paired_t_power(|effect|/sd, n, alpha) >= power``.

    The power is increasing in n, so an exponential search followed by a
    bisection finds the first n reaching ``power``.  Returns

    * 2 when sd == 0 and effect != 0 (any spread-free difference is
      detected at the smallest n that defines a t statistic);
    * None when effect is 0 or NaN, sd is not finite, or not even ``cap``
      seeds reach ``power`` (nothing finite to plan with).
    """
    _check_alpha_power(alpha, power)
    if (effect is None or sd is None or not math.isfinite(effect)
            or effect == 0 or not math.isfinite(sd)):
        return None
    if sd < 0:
        raise ValueError("sd must be >= 0")
    if sd == 0:
        return 2
    d = abs(effect) / sd
    ok = lambda n: paired_t_power(d, n, alpha) >= power  # noqa: E731
    if ok(2):
        return 2
    lo, hi = 2, 4                     # invariant: not ok(lo)
    while not ok(min(hi, cap)):
        if hi >= cap:
            return None
        lo, hi = hi, hi * 2
    hi = min(hi, cap)
    while hi - lo > 1:                # not ok(lo), ok(hi)
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def one_run_sign_probability(effect: float, sd: float) -> float:
    """Probability that one seed (one run per row, as in the paper's tables)
    shows the claimed sign.

    Assumes the single-seed paired difference is normal, d ~ N(effect, sd^2)
    with sd the seed-to-seed sd of the *difference*; then

        P(sign(d) == sign(effect)) = Phi(|effect| / sd).

    effect == 0 -> 0.5 (no sign to get right); sd == 0 with effect != 0 ->
    1.0; NaN inputs -> NaN.
    """
    from scipy import stats

    if effect is None or sd is None or math.isnan(effect) or math.isnan(sd):
        return math.nan
    if sd < 0:
        raise ValueError("sd must be >= 0")
    if effect == 0:
        return 0.5
    if sd == 0:
        return 1.0
    return float(stats.norm.cdf(abs(effect) / sd))
