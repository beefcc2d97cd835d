"""Statistics for the claims table: t-tests over seeds, best-of-k tests and multiplicity control.

Pure functions on plain numbers (numpy and ``scipy.stats`` only, no torch). Values are keyed by seed
(``{seed: value}``): two rows trained with the same seed share initial weights, batches and dropout,
so their per-seed results are correlated and the comparison is paired over the shared seeds.

* :func:`paired_test`: Student's paired t-test on the per-seed differences, df = n - 1.
* :func:`welch_test`: Welch's unequal-variance t-test with the Welch-Satterthwaite df.
* :func:`compare`: paired where the rows share at least two seeds, Welch otherwise.
* :func:`best_of_k_test`: "this row is the best of k + 1" with the selection accounted for.
* :func:`adjust`: Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) adjusted p.
* :func:`test_outcome`: ``holds`` / ``reversed`` / ``within noise`` / ``n/a`` from an adjusted p-value.

All p-values are two-sided unless named one-sided. Sample standard deviations use ddof = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import numpy as np
from scipy import stats as _sps

from himnet_lib.utils.errors import HimnetError

__all__ = ["Summary", "Test", "mean_sd_se", "paired_test", "welch_test", "compare", "best_of_k_test", "adjust",
           "test_outcome", "TEST_OUTCOMES"]

TEST_OUTCOMES = ("holds", "reversed", "within noise", "n/a")  # of test_outcome(): a test against 0

_NAN = float("nan")


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof = 1), standard error ``sd / sqrt(n)`` and count."""

    mean: float
    sd: float
    se: float
    n: int


@dataclass(frozen=True)
class Test:
    """The result of a two-row comparison (``a`` minus ``b``, or target minus the best other).

    effect: the estimated difference; se: its standard error; df: the t distribution's degrees of
    freedom; t = effect / se (for best-of-k: the statistic of the comparison with the best other);
    p: two-sided p-value; n: the number of seeds the test rests on (paired: shared seeds; Welch: the
    smaller group; best-of-k: the smallest n over its comparisons); paired: whether it is paired.
    Best-of-k only: p_holds (intersection-union p of "target beats every other"), p_reversed
    (Bonferroni p of "some other beats target"), best_other (label of the other with the highest
    mean) and side (``holds`` or ``reversed``: the hypothesis with the smaller p).
    """

    effect: float
    se: float
    df: float
    t: float
    p: float
    n: int
    paired: bool
    p_holds: float | None = None
    p_reversed: float | None = None
    best_other: str | None = None
    side: str | None = None


def _array(x: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    if not np.all(np.isfinite(a)):
        raise HimnetError(f"stats: {what} holds a non-finite value: {a.tolist()}")
    return a


def _seeded(x: Mapping[int, float], what: str) -> dict[int, float]:
    out = {int(k): float(v) for k, v in x.items()}
    if not all(math.isfinite(v) for v in out.values()):
        raise HimnetError(f"stats: {what} holds a non-finite value: {out}")
    return out


def mean_sd_se(x: Sequence[float] | np.ndarray) -> Summary:
    """``mean = Σx/n``, ``sd = sqrt(Σ(x - mean)² / (n - 1))``, ``se = sd / sqrt(n)``.

    sd and se are NaN for n < 2 (mean NaN for n = 0). Raises HimnetError on a non-finite value.
    """
    a = _array(x, "sample")
    n = int(a.size)
    mean = float(a.mean()) if n else _NAN
    sd = float(a.std(ddof=1)) if n > 1 else _NAN
    return Summary(mean, sd, sd / math.sqrt(n) if n > 1 else _NAN, n)


def _t_result(effect: float, se: float, df: float, n: int, paired: bool) -> Test:
    """t = effect / se and ``p = 2 · P(T_df >= |t|)``; se = 0 gives p = 0 (effect ≠ 0) or 1 (effect = 0)."""
    if not (math.isfinite(se) and math.isfinite(df)):
        return Test(effect, se, df, _NAN, _NAN, n, paired)
    if se == 0.0:
        # no spread: a nonzero difference is certain and a zero one carries no evidence
        if effect == 0.0:
            return Test(effect, se, df, 0.0, 1.0, n, paired)
        return Test(effect, se, df, math.copysign(math.inf, effect), 0.0, n, paired)
    t = effect / se
    return Test(effect, se, df, t, float(2.0 * _sps.t.sf(abs(t), df)), n, paired)


def paired_test(a: Mapping[int, float], b: Mapping[int, float]) -> Test:
    """Student's paired t-test of ``a - b`` over the seeds both have.

    ``d_s = a_s - b_s`` for the n shared seeds; ``effect = mean(d)``, ``se = sd(d) / sqrt(n)``,
    ``df = n - 1``, ``t = effect / se``, ``p = 2 · P(T_df >= |t|)`` (Student t).
    Degenerate ``sd(d) = 0`` (every difference equal): p = 0 if the effect is nonzero, else 1, and
    t = ±inf or 0. With n < 2 shared seeds se, df, t and p are NaN. Seeds only one side has are ignored.
    """
    da, db = _seeded(a, "paired a"), _seeded(b, "paired b")
    seeds = sorted(set(da) & set(db))
    s = mean_sd_se([da[k] - db[k] for k in seeds])
    if s.n < 2:
        return Test(s.mean, _NAN, _NAN, _NAN, _NAN, s.n, True)
    return _t_result(s.mean, s.se, float(s.n - 1), s.n, True)


def welch_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Test:
    """Welch's unequal-variance t-test of ``mean(a) - mean(b)`` for independent samples.

    ``effect = mean(a) - mean(b)``, ``se = sqrt(s_a²/n_a + s_b²/n_b)``, Welch-Satterthwaite
    ``df = (s_a²/n_a + s_b²/n_b)² / ((s_a²/n_a)²/(n_a - 1) + (s_b²/n_b)²/(n_b - 1))``,
    ``p = 2 · P(T_df >= |t|)``. Degenerate ``s_a = s_b = 0``: df = n_a + n_b - 2, p = 0 if the effect
    is nonzero, else 1. With fewer than two values on either side se, df, t and p are NaN.
    ``n`` of the result is ``min(n_a, n_b)``.
    """
    sa, sb = mean_sd_se(a), mean_sd_se(b)
    n = min(sa.n, sb.n)
    effect = sa.mean - sb.mean
    if n < 2:
        return Test(effect, _NAN, _NAN, _NAN, _NAN, n, False)
    va, vb = sa.sd**2 / sa.n, sb.sd**2 / sb.n
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1)) if se > 0 else float(sa.n + sb.n - 2)
    return _t_result(effect, se, df, n, False)


def compare(a: Mapping[int, float], b: Mapping[int, float], pair: bool | None = None) -> Test:
    """``a`` minus ``b``: :func:`paired_test` over the shared seeds when there are at least two of them
    and ``pair`` is not False, else :func:`welch_test` on all values of each side.

    ``pair=True`` insists on pairing and raises HimnetError with fewer than two shared seeds.
    """
    shared = len(set(map(int, a)) & set(map(int, b)))
    if pair is True and shared < 2:
        raise HimnetError(f"stats: a paired comparison needs >= 2 shared seeds, got {shared} "
                          f"(seeds {sorted(a)} vs {sorted(b)})")
    if pair is not False and shared >= 2:
        return paired_test(a, b)
    return welch_test(list(a.values()), list(b.values()))


def best_of_k_test(target: Mapping[int, float], others: Mapping[str, Mapping[int, float]],
                   pair: bool | None = None) -> Test:
    """"``target`` is the best of the rows", tested against every one of the k ``others``.

    ``effect = mean(target) - max_j mean(other_j)`` (means over all seeds of each row). For each
    other j, ``T_j = compare(target, other_j, pair)`` (paired where possible), with one-sided
    ``p_j^> = P(T_df >= t_j)`` (target better) and ``p_j^< = P(T_df <= t_j)`` (j better).

    * holds, "target beats every other": an intersection-union test, ``p_holds = max_j p_j^>``. It
      rejects only if every single comparison rejects, so it needs no multiplicity penalty.
    * reversed, "some other beats target": a union of k one-sided hypotheses, Bonferroni,
      ``p_reversed = min(1, k · min_j p_j^<)``.
    * ``p = min(1, 2 · min(p_holds, p_reversed))``: two-sided in the usual sense (each side at level
      α/2), ``side`` = the hypothesis with the smaller p.

    Testing against every other, not only against the other with the highest observed mean, is
    what accounts for the selection: comparing with the observed best alone is biased towards
    "reversed" (the maximum of k noisy means overestimates the best true mean), whereas each
    ``p_j`` here is a valid test of a pre-specified pair. se, df, t and paired are those of the
    comparison with ``best_other``; n is the smallest n over the comparisons.
    """
    if not others:
        raise HimnetError("stats: best_of_k_test needs at least one other row")
    tgt = _seeded(target, "best-of-k target")
    means = {label: mean_sd_se(list(_seeded(o, f"best-of-k row {label!r}").values())).mean
             for label, o in others.items()}
    best = max(means, key=lambda label: means[label])
    tests = {label: compare(tgt, o, pair) for label, o in others.items()}
    effect = mean_sd_se(list(tgt.values())).mean - means[best]
    n = min(t.n for t in tests.values())
    ref = tests[best]
    if any(not math.isfinite(t.p) for t in tests.values()):
        return Test(effect, ref.se, ref.df, ref.t, _NAN, n, ref.paired, _NAN, _NAN, best, None)
    greater = np.array([_one_sided_greater(t) for t in tests.values()])
    p_holds = float(greater.max())
    p_rev = min(1.0, len(tests) * float((1.0 - greater).min()))
    side = "holds" if p_holds <= p_rev else "reversed"
    return Test(effect, ref.se, ref.df, ref.t, min(1.0, 2.0 * min(p_holds, p_rev)), n, ref.paired, p_holds, p_rev,
                best, side)


def _one_sided_greater(t: Test) -> float:
    """``P(T_df >= t)``, the one-sided p of effect > 0; the degenerate se = 0 case gives 0, 1 or 1/2."""
    if math.isinf(t.t):
        return 0.0 if t.t > 0 else 1.0
    if t.se == 0.0:
        return 0.5
    return float(_sps.t.sf(t.t, t.df))


def adjust(p: Sequence[float] | np.ndarray, method: Literal["holm", "bh"] = "holm") -> np.ndarray:
    """Adjusted p-values, in input order; NaN entries stay NaN and do not count in m.

    With the m non-NaN p-values sorted ``p_(1) <= ... <= p_(m)``:

    * ``holm`` (Holm 1979 step-down, controls the family-wise error under any dependence):
      ``p̃_(i) = max_{j <= i} min(1, (m - j + 1) · p_(j))``.
    * ``bh`` (Benjamini-Hochberg 1995 step-up, controls the false discovery rate under independence
      or positive dependence): ``p̃_(i) = min_{j >= i} min(1, m / j · p_(j))``.

    Rejecting where ``p̃ < level`` is the corresponding procedure at that level.
    """
    arr = np.asarray(p, dtype=float).ravel()
    ok = ~np.isnan(arr)
    vals = arr[ok]
    if np.any((vals < 0) | (vals > 1)):
        raise HimnetError(f"stats: p-values must lie in [0, 1], got {vals.tolist()}")
    m = vals.size
    order = np.argsort(vals, kind="stable")
    ranked = vals[order]
    j = np.arange(1, m + 1)
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - j + 1) * ranked))
    elif method == "bh":
        adj = np.minimum.accumulate(np.minimum(1.0, m / j * ranked)[::-1])[::-1]
    else:
        raise HimnetError(f"stats: unknown adjustment {method!r} (holm or bh)")
    back = np.empty(m)
    back[order] = adj
    out = arr.copy()
    out[ok] = back
    return out


def test_outcome(test: Test, p_adjusted: float, direction: int = 1, level: float = 0.05) -> str:
    """``holds`` / ``reversed`` when ``p_adjusted < level``, by the sign of the effect times
    ``direction`` (+1: the claim says a > b); ``within noise`` otherwise; ``n/a`` when n < 2 or the
    effect or ``p_adjusted`` is not finite. A best-of-k test's sign is its ``side`` (holds = +1).
    """
    if test.n < 2 or not math.isfinite(test.effect) or not math.isfinite(p_adjusted):
        return "n/a"
    if not p_adjusted < level:
        return "within noise"
    if test.side is not None:
        sign = 1.0 if test.side == "holds" else -1.0
    elif test.effect == 0.0:
        return "within noise"
    else:
        sign = math.copysign(1.0, test.effect)
    return "holds" if sign * direction > 0 else "reversed"
