"""himnet_lib.study.stats against hand computations, published values and simulated null data.

The simulations use a fixed RNG seed, so their rates are deterministic; the bounds are the nominal
level plus about three binomial standard errors of the number of draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from himnet_lib.study import stats as S
from himnet_lib.utils.errors import HimnetError

# Student (1908) / Cushny & Peebles sleep data, as in R's `sleep` data set (extra hours of sleep).
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def _seeds(x):
    return {s: float(v) for s, v in enumerate(x)}


# --- summaries and t-tests -----------------------------------------------------------------------

def test_mean_sd_se_by_hand():
    s = S.mean_sd_se([1.0, 2.0, 4.0])
    assert s.n == 3 and s.mean == pytest.approx(7 / 3)
    var = ((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2
    assert s.sd == pytest.approx(math.sqrt(var)) and s.se == pytest.approx(math.sqrt(var / 3))
    one = S.mean_sd_se([5.0])
    assert one.mean == 5.0 and one.n == 1 and math.isnan(one.sd) and math.isnan(one.se)
    with pytest.raises(HimnetError, match="non-finite"):
        S.mean_sd_se([1.0, float("nan")])


def test_paired_by_hand_and_against_scipy():
    a = {0: 10.0, 1: 12.5, 2: 11.0, 3: 13.0, 7: 99.0}      # seed 7 is not shared: ignored
    b = {0: 9.0, 1: 12.0, 2: 9.5, 3: 12.8, 8: -5.0}
    d = np.array([1.0, 0.5, 1.5, 0.2])
    effect = d.sum() / 4
    sd = math.sqrt(((d - effect) ** 2).sum() / 3)
    se = sd / 2.0
    t = effect / se
    p = 2 * sps.t.sf(abs(t), 3)
    got = S.paired_test(a, b)
    assert got.paired and got.n == 4 and got.df == 3
    assert got.effect == pytest.approx(effect) and got.se == pytest.approx(se)
    assert got.t == pytest.approx(t) and got.p == pytest.approx(p)
    ref = sps.ttest_rel([10.0, 12.5, 11.0, 13.0], [9.0, 12.0, 9.5, 12.8])
    assert got.t == pytest.approx(ref.statistic) and got.p == pytest.approx(ref.pvalue)


def test_welch_by_hand_and_against_scipy():
    a, b = np.array([3.1, 4.0, 2.2, 5.3]), np.array([1.0, 1.4, 0.2])
    va, vb = a.var(ddof=1) / 4, b.var(ddof=1) / 3
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)
    t = (a.mean() - b.mean()) / se
    got = S.welch_test(a, b)
    assert not got.paired and got.n == 3
    assert got.effect == pytest.approx(a.mean() - b.mean()) and got.se == pytest.approx(se)
    assert got.df == pytest.approx(df) and got.t == pytest.approx(t)
    assert got.p == pytest.approx(2 * sps.t.sf(abs(t), df))
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert got.t == pytest.approx(ref.statistic) and got.p == pytest.approx(ref.pvalue)
    assert got.df == pytest.approx(ref.df)


def test_published_sleep_example():
    # R: t.test(extra ~ group, data = sleep, paired = TRUE) -> t = -4.0621, df = 9, p-value = 0.002833
    p = S.paired_test(_seeds(SLEEP_1), _seeds(SLEEP_2))
    assert p.effect == pytest.approx(-1.58)
    assert round(p.t, 4) == -4.0621 and p.df == 9 and round(p.p, 6) == 0.002833
    # R: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776, p-value = 0.07939
    w = S.welch_test(SLEEP_1, SLEEP_2)
    assert round(w.t, 4) == -1.8608 and round(w.df, 3) == 17.776 and round(w.p, 5) == 0.07939


def test_degenerate_and_small_inputs():
    same = S.paired_test({0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0})   # every difference is 1
    assert same.se == 0 and same.p == 0.0 and same.t == math.inf
    zero = S.paired_test({0: 2.0, 1: 3.0}, {0: 2.0, 1: 3.0})
    assert zero.p == 1.0 and zero.t == 0.0
    flat = S.welch_test([1.0, 1.0, 1.0], [2.0, 2.0])
    assert flat.p == 0.0 and flat.df == 3 and flat.t == -math.inf
    one = S.paired_test({0: 1.0, 1: 2.0}, {1: 0.0, 2: 5.0})
    assert one.n == 1 and math.isnan(one.p)
    assert math.isnan(S.welch_test([1.0], [1.0, 2.0]).p)


def test_compare_chooses_paired_or_welch():
    a, b = {0: 1.0, 1: 2.0, 2: 4.0}, {0: 0.5, 1: 1.0, 2: 2.0}
    assert S.compare(a, b).paired
    assert not S.compare(a, b, pair=False).paired
    disjoint = {5: 0.0, 6: 1.0, 7: 0.3}
    w = S.compare(a, disjoint)
    assert not w.paired and w.p == pytest.approx(sps.ttest_ind([1, 2, 4], [0, 1, 0.3], equal_var=False).pvalue)
    with pytest.raises(HimnetError, match="shared seeds"):
        S.compare(a, disjoint, pair=True)


# --- multiplicity --------------------------------------------------------------------------------

def test_holm_and_bh_hand_worked():
    # sorted: 0.005, 0.01, 0.03, 0.04 (m = 4; the NaN does not count)
    # Holm: 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, 1*0.04=0.04 -> running max 0.02, 0.03, 0.06, 0.06
    # BH:   4/1*0.005=0.02, 4/2*0.01=0.02, 4/3*0.03=0.04, 4/4*0.04=0.04 -> running min from the top
    p = [0.01, float("nan"), 0.04, 0.03, 0.005]
    np.testing.assert_allclose(S.adjust(p, "holm"), [0.03, np.nan, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(S.adjust(p, "bh"), [0.02, np.nan, 0.04, 0.04, 0.02])
    # caps at 1; BH's step-up lowers 1.0 to the larger p's 0.9
    np.testing.assert_allclose(S.adjust([0.5, 0.9], "holm"), [1.0, 1.0])
    np.testing.assert_allclose(S.adjust([0.5, 0.9], "bh"), [0.9, 0.9])
    assert S.adjust([], "holm").size == 0
    with pytest.raises(HimnetError, match=r"\[0, 1\]"):
        S.adjust([0.2, 1.5])
    with pytest.raises(HimnetError, match="unknown adjustment"):
        S.adjust([0.2], "bonf")  # type: ignore[arg-type]


def test_verdict_rule():
    t = S.paired_test({0: 3.0, 1: 4.0, 2: 5.5}, {0: 1.0, 1: 1.5, 2: 2.0})   # effect > 0
    assert S.test_outcome(t, 0.01) == "holds"
    assert S.test_outcome(t, 0.01, direction=-1) == "reversed"
    assert S.test_outcome(t, 0.05) == "within noise"           # strictly below the level
    assert S.test_outcome(t, float("nan")) == "n/a"
    small = S.paired_test({0: 1.0}, {0: 0.0})
    assert S.test_outcome(small, 0.0) == "n/a"


# --- best of k -----------------------------------------------------------------------------------

def test_best_of_k_hand_example():
    target = {0: 5.0, 1: 6.0, 2: 7.5}
    others = {"x": {0: 4.0, 1: 5.5, 2: 6.0}, "y": {0: 1.0, 1: 2.0, 2: 2.5}, "z": {0: 4.8, 1: 5.0, 2: 7.6}}
    got = S.best_of_k_test(target, others)
    greater = [sps.ttest_rel([5, 6, 7.5], v, alternative="greater").pvalue
               for v in ([4, 5.5, 6], [1, 2, 2.5], [4.8, 5, 7.6])]
    less = [sps.ttest_rel([5, 6, 7.5], v, alternative="less").pvalue for v in ([4, 5.5, 6], [1, 2, 2.5], [4.8, 5, 7.6])]
    assert got.p_holds == pytest.approx(max(greater))
    assert got.p_reversed == pytest.approx(min(1.0, 3 * min(less)))
    assert got.p == pytest.approx(min(1.0, 2 * min(got.p_holds, got.p_reversed)))
    # means: target 6.1667, x 5.1667, y 1.8333, z 5.8 -> z is the best other
    assert got.best_other == "z" and got.effect == pytest.approx(18.5 / 3 - 17.4 / 3)
    ref = S.paired_test(target, others["z"])
    assert (got.se, got.df, got.t, got.paired) == (ref.se, ref.df, ref.t, True)
    assert got.side == ("holds" if got.p_holds <= got.p_reversed else "reversed")
    with pytest.raises(HimnetError, match="at least one"):
        S.best_of_k_test(target, {})


def test_best_of_k_reversed_side_and_verdict():
    # "w" beats the target by 3 on every seed but one: a clear reversal; "v" is far below
    target = {0: 1.0, 1: 2.0, 2: 3.0, 3: 2.5}
    others = {"v": {0: -9.0, 1: -8.5, 2: -7.0, 3: -8.0}, "w": {0: 4.0, 1: 5.1, 2: 5.9, 3: 5.5}}
    got = S.best_of_k_test(target, others)
    less = sps.ttest_rel([1, 2, 3, 2.5], [4, 5.1, 5.9, 5.5], alternative="less").pvalue
    assert got.side == "reversed" and got.best_other == "w"
    assert got.p_reversed == pytest.approx(2 * less) and got.p == pytest.approx(4 * less)
    assert S.test_outcome(got, got.p) == "reversed"


# --- simulated null data -------------------------------------------------------------------------

LEVEL = 0.05
R = 0.9          # correlation of two rows' results on the same seed


def _correlated_rows(rng, k, n):
    """k rows x n seeds, unit variance, correlation R between rows on the same seed."""
    seed_effect = rng.standard_normal(n)
    return math.sqrt(R) * seed_effect + math.sqrt(1 - R) * rng.standard_normal((k, n))


def _old_rule(a, b):
    """The former claims rule: non-noise when |mean(a) - mean(b)| >= 2 * unpaired SE."""
    a, b = np.asarray(a), np.asarray(b)
    return abs(a.mean() - b.mean()) >= 2 * math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)


@pytest.mark.parametrize("n", [3, 5])
def test_paired_null_false_positive_rate(n):
    rng = np.random.default_rng(100 + n)
    hits = 0
    for _ in range(2000):
        x = _correlated_rows(rng, 2, n)
        hits += S.compare(_seeds(x[0]), _seeds(x[1])).p < LEVEL
    assert 0.035 < hits / 2000 < 0.065


def test_welch_null_false_positive_rate_and_old_rule():
    rng = np.random.default_rng(7)
    welch, old = {3: 0, 5: 0}, {3: 0, 5: 0}
    for n in (3, 5):
        for _ in range(2000):
            a, b = rng.standard_normal(n), rng.standard_normal(n)
            welch[n] += S.welch_test(a, b).p < LEVEL
            old[n] += _old_rule(a, b)
    # Welch is approximate and conservative at tiny n; it must not exceed the level
    assert welch[3] / 2000 < 0.065 and welch[5] / 2000 < 0.065
    # the former 2-SE rule is not a 5 % test on 3 vs 3 seeds
    assert old[3] / 2000 > 0.08


def test_holm_family_wise_error_on_null_families():
    rng = np.random.default_rng(11)
    fam = 800
    any_raw = any_holm = any_bh = 0
    for _ in range(fam):
        p = [S.compare(_seeds(x[0]), _seeds(x[1])).p for x in (_correlated_rows(rng, 2, 3) for _ in range(20))]
        any_raw += min(p) < LEVEL
        any_holm += S.adjust(p, "holm").min() < LEVEL
        any_bh += S.adjust(p, "bh").min() < LEVEL    # all null: FDR = FWER
    assert any_holm / fam <= LEVEL + 0.02 and any_bh / fam <= LEVEL + 0.02
    assert any_raw / fam > 0.5                       # unadjusted, 20 null rows give a "finding" most of the time


def test_best_of_k_null_and_power():
    rng = np.random.default_rng(3)
    sims = 1500
    called = 0
    for _ in range(sims):
        x = _correlated_rows(rng, 7, 3)
        t = S.best_of_k_test(_seeds(x[0]), {f"arm{j}": _seeds(x[j]) for j in range(1, 7)})
        called += S.test_outcome(t, t.p) != "within noise"
    assert called / sims <= LEVEL + 0.015
    # the former rule (target against the observed best other, unpaired 2 SE) on independent arms
    old = 0
    for _ in range(sims):
        x = rng.standard_normal((7, 3))
        old += _old_rule(x[0], x[1 + int(np.argmax(x[1:].mean(axis=1)))])
    assert old / sims > 0.12
    detected = 0
    for _ in range(200):
        x = _correlated_rows(rng, 7, 3)
        x[0] += 3.0                                  # arm 0 truly best by 3 sd (about 9 sd of a paired difference)
        t = S.best_of_k_test(_seeds(x[0]), {f"arm{j}": _seeds(x[j]) for j in range(1, 7)})
        detected += S.test_outcome(t, t.p) == "holds"
    assert detected / 200 > 0.8
