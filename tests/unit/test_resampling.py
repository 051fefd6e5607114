"""Interval estimators and permutation p-values against known answers: nominal 90% intervals cover a
known population value in 85-95% of >= 200 seeded simulations; permutation p-values are uniform under
the null (KS test) and small under a planted effect; resampling keeps a sentence's words together."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ftgeo.analysis.resampling import (
    bca_interval, bootstrap_plan, clopper_pearson_interval, jackknife_blocks, jackknife_interval,
    percentile_interval, permutation_null, permutation_pvalue, proportion_interval, row_groups, wilson_interval,
)
from ftgeo.errors import ValidationError

SIMS = 300


def _coverage(intervals, truth):
    lo, hi = np.array(intervals).T[:2]
    return float(np.mean((lo <= truth) & (truth <= hi)))


def test_wilson_covers_a_known_accuracy():
    rng = np.random.default_rng(0)
    p, n = 0.8, 150
    cov = _coverage([wilson_interval(int(rng.binomial(n, p)), n, 0.9) for _ in range(SIMS)], p)
    assert 0.85 <= cov <= 0.95, cov


def test_clopper_pearson_is_exact_and_conservative():
    rng = np.random.default_rng(1)
    p, n = 0.9, 60
    cov = _coverage([clopper_pearson_interval(int(rng.binomial(n, p)), n, 0.9) for _ in range(SIMS)], p)
    assert 0.88 <= cov <= 0.99, cov
    assert clopper_pearson_interval(0, 10, 0.9)[0] == 0.0 and clopper_pearson_interval(10, 10, 0.9)[1] == 1.0
    # known value: k=0, n=10, 90% -> upper = 1 - 0.05**(1/10)
    assert clopper_pearson_interval(0, 10, 0.9)[1] == pytest.approx(1 - 0.05 ** 0.1)


def test_wilson_known_value():
    # Brown, Cai & DasGupta (2001): 95% Wilson for 1/10 is about (0.0179, 0.4042)
    lo, hi = wilson_interval(1, 10, 0.95)
    assert lo == pytest.approx(0.0179, abs=5e-4) and hi == pytest.approx(0.4042, abs=5e-4)


def test_percentile_bootstrap_covers_a_mean():
    rng = np.random.default_rng(2)
    out = []
    for s in range(SIMS):
        x = rng.normal(1.0, 2.0, 100)
        plan = bootstrap_plan(x.size, 300, random_state=s)
        out.append(percentile_interval([x[i].mean() for i in plan], 0.9))
    cov = _coverage(out, 1.0)
    assert 0.85 <= cov <= 0.95, cov


def test_bca_covers_a_skewed_mean():
    rng = np.random.default_rng(3)
    out = []
    for s in range(SIMS):
        x = rng.exponential(1.0, 150)
        plan = bootstrap_plan(x.size, 500, random_state=s)
        jack = [np.delete(x, i).mean() for i in range(x.size)]
        out.append(bca_interval(x.mean(), [x[i].mean() for i in plan], jack, 0.9))
    cov = _coverage(out, 1.0)
    assert 0.85 <= cov <= 0.95, cov


def test_jackknife_covers_a_correlation():
    rng = np.random.default_rng(4)
    rho, n = 0.6, 200
    cov_m = [[1, rho], [rho, 1]]
    out = []
    for s in range(SIMS):
        xy = rng.multivariate_normal([0, 0], cov_m, n)
        blocks = jackknife_blocks(n, 20, random_state=s)
        r = np.corrcoef(xy.T)[0, 1]
        loo = [np.corrcoef(xy[blocks != b].T)[0, 1] for b in range(20)]
        centre, lo, hi = jackknife_interval(r, loo, 0.9)
        out.append((lo, hi))
    cov = _coverage(out, rho)
    assert 0.85 <= cov <= 0.95, cov


def test_permutation_pvalues_are_uniform_under_the_null_and_small_under_an_effect():
    rng = np.random.default_rng(5)
    ps = []
    for s in range(SIMS):
        x, y = rng.normal(size=40), rng.normal(size=40)
        obs = abs(np.corrcoef(x, y)[0, 1])
        null = permutation_null(lambda p: abs(np.corrcoef(x, y[p])[0, 1]), 40, 199, random_state=s)
        ps.append(permutation_pvalue(obs, null))
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    x = rng.normal(size=40)
    y = x + 0.5 * rng.normal(size=40)
    null = permutation_null(lambda p: abs(np.corrcoef(x, y[p])[0, 1]), 40, 999, random_state=0)
    p = permutation_pvalue(abs(np.corrcoef(x, y)[0, 1]), null)
    assert p == pytest.approx(1 / 1000)            # never 0: (1 + 0) / (B + 1)


def test_rows_of_one_sentence_move_together():
    ids = ["s1:0", "s1:1", "s2:0", "s3:0", "s3:1", "s3:2"]
    g = row_groups(ids, "word")
    assert g.tolist() == [0, 0, 1, 2, 2, 2]
    assert row_groups(["a", "b", "a:1"], "cls").tolist() == [0, 1, 2]
    for idx in bootstrap_plan(g, 50, random_state=0):
        picked = g[idx]
        for grp in np.unique(picked):                 # whole sentences: each drawn group appears in full
            assert np.sum(picked == grp) % np.sum(g == grp) == 0
    blocks = jackknife_blocks(g, 2, random_state=0)
    assert all(len(set(blocks[g == k])) == 1 for k in range(3))


def test_proportion_interval_chooses_wilson_or_cluster_bootstrap():
    correct = np.array([1, 1, 0, 1, 0, 1, 1, 1])
    lo, hi, how = proportion_interval(correct)
    assert how == "wilson" and (lo, hi) == wilson_interval(6, 8, 0.9)
    lo, hi, how = proportion_interval(correct, groups=[0, 0, 1, 1, 2, 2, 3, 3], n_resamples=200)
    assert how.startswith("cluster bootstrap") and 0 <= lo <= 0.75 <= hi <= 1


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValidationError, match="confidence level"):
        wilson_interval(1, 2, 90)
    with pytest.raises(ValidationError, match="at least 2 examples"):
        jackknife_blocks(1)
    with pytest.raises(ValidationError, match="alternative"):
        permutation_pvalue(1.0, [0.0], "bigger")
