"""Intervals and nulls of the GPTology analyses against known answers: the CKA jackknife's leave-outs equal
CKA recomputed on each subset (every kernel/estimator route), nominal 90% intervals cover a planted
population value in 85-95% of >= 200 seeded simulations (CKA, IsoScore, average cosine, rogue variance
shares), permutation p-values are uniform under the null (KS) and small under a planted effect (CKA's row
correspondence, the threshold's labels), and the new columns, arrays and helpers of every result."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from ftgeo.analysis.isotropy import (average_cosine, average_cosine_jackknife, isoscore, isoscore_jackknife,
                                     pca_variances, isoscore_from_moments)
from ftgeo.analysis.resampling import bootstrap_plan, jackknife_blocks, jackknife_interval, percentile_interval
from ftgeo.analysis.resampling import permutation_pvalue
from ftgeo.analysis.rogue import bootstrap_overlap, variance_bootstrap
from ftgeo.analysis.similarity import cka, cka_permutation_null, layer_cka_jackknife, layer_cka_matrices
from ftgeo.reps import InMemoryRepresentations
from ftgeo.testing import planted_reps

SIMS = 240


def _coverage(bounds, truth):
    b = np.asarray(bounds, dtype=float)
    return float(np.mean((b[:, 0] <= truth) & (truth <= b[:, 1])))


def _layers(n, d, L, seed, offset=3.0):
    r = np.random.default_rng(seed)
    h = r.standard_normal((n, d)) + offset
    out = []
    for _ in range(L):
        h = h @ (np.eye(d) + 0.3 * r.standard_normal((d, d))) + r.standard_normal((n, d))
        out.append(h.copy())
    return out


# ------------------------------------------------------------------ CKA: the jackknife engine
@pytest.mark.parametrize("kernel,debiased,standardize,n,d", [
    ("linear", False, False, 80, 6),      # feature route, block products per pair (blocks larger than d)
    ("linear", True, True, 80, 6),
    ("linear", False, True, 150, 20),     # feature route, block Grams (blocks smaller than d)
    ("linear", True, False, 150, 20),
    ("linear", False, False, 30, 40),     # Gram route (n <= d)
    ("rbf", True, False, 50, 5),          # Gram route, the subset's own bandwidth (full distances sliced)
    ("rbf", False, True, 40, 5),          # Gram route, standardized on the subset (rows prepared again)
])
def test_cka_leave_outs_equal_cka_recomputed_on_each_subset(kernel, debiased, standardize, n, d):
    A, B = _layers(n, d, 3, 1), _layers(n, d, 2, 2)
    blocks = jackknife_blocks(n, 8, 0)
    sets = {"a": A, "b": B}
    kw = dict(kernel=kernel, debiased=debiased, standardize=standardize, device="numpy", progress=False)
    M, J = layer_cka_jackknife(sets, blocks, **kw)
    ref = layer_cka_matrices(sets, **kw)
    for key in ref:                                            # the point estimates, bit for bit
        np.testing.assert_array_equal(M[key], ref[key])
        assert J[key].shape == (8, *ref[key].shape)
    for g in range(8):                                         # a literal reference: CKA without block g
        keep = blocks != g
        sub = layer_cka_matrices({"a": [x[keep] for x in A], "b": [x[keep] for x in B]}, **kw)
        for key in sub:
            np.testing.assert_allclose(J[key][g], sub[key], rtol=0, atol=1e-12)


def test_cka_jackknife_on_torch_matches_numpy():
    pytest.importorskip("torch")
    A, B = _layers(60, 8, 1, 3), _layers(60, 8, 1, 4)
    blocks = jackknife_blocks(60, 6, 1)
    for kw in ({}, {"debiased": True, "standardize": True}):
        M0, J0 = layer_cka_jackknife({"a": A, "b": B}, blocks, device="numpy", progress=False, **kw)
        M1, J1 = layer_cka_jackknife({"a": A, "b": B}, blocks, device="cpu", progress=False, **kw)
        np.testing.assert_array_equal(M1[("a", "b")], layer_cka_matrices({"a": A, "b": B}, device="cpu",
                                                                          progress=False, **kw)[("a", "b")])
        for key in M0:
            np.testing.assert_allclose(J1[key], J0[key], atol=1e-12)


def test_cka_jackknife_keeps_degenerate_layers_nan():
    rng = np.random.default_rng(0)
    n = 60
    blocks = np.arange(n) % 6
    good = rng.standard_normal((n, 4))
    const = np.tile(rng.standard_normal((1, 4)), (n, 1))
    one_block = const.copy()
    one_block[blocks == 2] += rng.standard_normal((10, 4))      # varies only in block 2: constant without it
    with pytest.warns(RuntimeWarning, match="constant layer"):
        M, J = layer_cka_jackknife({"a": [good, const, one_block]}, blocks, device="numpy", progress=False)
    M, J = M[("a", "a")], J[("a", "a")]
    assert np.isnan(M[1]).all() and np.isnan(J[:, 1]).all()
    assert np.isfinite(M[0, 2]) and np.isnan(J[2, 0, 2]) and np.isfinite(J[[0, 1, 3, 4, 5], 0, 2]).all()
    assert np.isnan(jackknife_interval(M[0, 2], J[:, 0, 2], 0.9)[1])           # no interval for that cell


def _population_linear_cka(W, sigma):
    Syy = W.T @ W + sigma ** 2 * np.eye(W.shape[1])
    return float(np.sum(W ** 2) / (np.sqrt(W.shape[0]) * np.linalg.norm(Syy)))


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_jackknife_interval_covers_a_planted_population_cka(debiased):
    """X ~ N(0, I_3), Y = X W + E: population linear CKA = ||W||_F^2 / (sqrt(3) ||W^T W + I||_F)."""
    W = np.diag([1.0, 0.7, 0.4])
    truth = _population_linear_cka(W, 1.0)
    rng = np.random.default_rng(7)
    bounds = []
    for s in range(SIMS):
        X = rng.standard_normal((150, 3))
        Y = X @ W + rng.standard_normal((150, 3))
        M, J = layer_cka_jackknife({"x": [X], "y": [Y]}, jackknife_blocks(150, 20, s), [("x", "y")],
                                   debiased=debiased, device="numpy", progress=False)
        bounds.append(jackknife_interval(M[("x", "y")][0, 0], J[("x", "y")][:, 0, 0], 0.9)[1:])
    cov = _coverage(bounds, truth)
    assert 0.85 <= cov <= 0.95, cov


def test_cka_permutation_pvalues_uniform_under_the_null_and_small_under_an_effect():
    rng = np.random.default_rng(11)
    ps = []
    for s in range(SIMS):
        X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 4))
        r = cka_permutation_null(X, Y, n_permutations=199, random_state=s)
        ps.append(permutation_pvalue(r["observed"], r["null"]))
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    X = rng.standard_normal((40, 3))
    r = cka_permutation_null(X, X @ rng.standard_normal((3, 4)) + 0.5 * rng.standard_normal((40, 4)),
                             n_permutations=199, random_state=0)
    assert permutation_pvalue(r["observed"], r["null"]) == pytest.approx(1 / 200)


@pytest.mark.parametrize("kw", [{}, {"debiased": True}, {"kernel": "rbf"}, {"standardize": True}])
def test_cka_permutation_null_observed_is_cka_on_the_subsample(kw):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 5))
    Y = X @ rng.standard_normal((5, 6)) + rng.standard_normal((300, 6))
    r = cka_permutation_null(X, Y, n_permutations=50, max_points=120, random_state=3, **kw)
    assert r["n_rows"] == 120 and r["subsampled"] and r["null"].shape == (50,)
    rows = np.sort(np.random.default_rng(3).choice(300, 120, replace=False))
    assert r["observed"] == pytest.approx(cka(X[rows], Y[rows], **kw), abs=1e-5)    # float32 products
    assert r["null"].max() < r["observed"]
    whole = cka_permutation_null(X, Y, n_permutations=0, max_points=None)
    assert whole["n_rows"] == 300 and not whole["subsampled"]
    const = cka_permutation_null(np.ones((50, 3)), Y[:50], n_permutations=5)
    assert np.isnan(const["observed"]) and np.isnan(const["null"]).all()


# ------------------------------------------------------------------ isotropy
def test_isoscore_is_the_rescaled_participation_ratio_and_its_leave_outs_are_literal():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6)) * np.array([5, 2, 1, 1, 0.5, 0.1]) + 3
    v = pca_variances(X)
    assert isoscore_from_moments(v.sum(), (v ** 2).sum(), 6) == pytest.approx(isoscore(X), abs=1e-12)
    b = jackknife_blocks(120, 7, 0)
    np.testing.assert_allclose(isoscore_jackknife(X, b), [isoscore(X[b != g]) for g in range(7)], atol=1e-12)
    for n_pairs in (None, 500):
        value, out = average_cosine_jackknife(X, b, n_pairs, random_state=4)
        assert value == average_cosine(X, n_pairs, random_state=4)
        if n_pairs is None:
            np.testing.assert_allclose(out, [average_cosine(X[b != g], None) for g in range(7)], atol=1e-12)
        else:                      # the same seeded pairs, those touching the block dropped
            U = X / np.linalg.norm(X, axis=1)[:, None]
            r = np.random.default_rng(4)
            i = r.integers(0, 120, 500)
            j = (i + r.integers(1, 120, 500)) % 120
            h = np.einsum("ij,ij->i", U[i], U[j])
            np.testing.assert_allclose(out, [h[(b[i] != g) & (b[j] != g)].mean() for g in range(7)], atol=1e-12)
    flat = np.c_[rng.standard_normal((50, 1)), np.zeros((50, 3))]
    assert (isoscore_jackknife(flat, np.arange(50) % 5) == 0).all()


def test_isoscore_jackknife_covers_the_population_isoscore():
    """Rows ~ N(0, diag(s^2)): population IsoScore = (PR - 1) / (d - 1), PR = (sum s^2)^2 / sum s^4."""
    s2 = np.array([4.0, 2.0, 1.0, 1.0])
    truth = ((s2.sum() ** 2 / (s2 ** 2).sum()) - 1) / 3
    rng = np.random.default_rng(3)
    bounds = []
    for s in range(SIMS):
        X = rng.standard_normal((200, 4)) * np.sqrt(s2)
        bounds.append(jackknife_interval(isoscore(X), isoscore_jackknife(X, jackknife_blocks(200, 20, s)), 0.9)[1:])
    cov = _coverage(bounds, truth)
    assert 0.85 <= cov <= 0.95, cov


@pytest.mark.parametrize("n_pairs", [None, 3000])
def test_average_cosine_jackknife_covers_the_population_value(n_pairs):
    """Rows drawn from 40 fixed vectors: the population mean cosine of two independent draws is the mean
    over all 40 x 40 ordered pairs (a repeated vector included)."""
    rng = np.random.default_rng(5)
    V = rng.standard_normal((40, 3)) + np.array([1.0, 0.0, 0.0])
    U = V / np.linalg.norm(V, axis=1)[:, None]
    truth = float((U @ U.T).mean())
    bounds = []
    for s in range(SIMS):
        X = V[rng.integers(0, 40, 200)]
        value, out = average_cosine_jackknife(X, jackknife_blocks(200, 20, s), n_pairs, random_state=s)
        bounds.append(jackknife_interval(value, out, 0.9)[1:])
    cov = _coverage(bounds, truth)
    assert 0.85 <= cov <= 0.95, cov


# ------------------------------------------------------------------ rogue
def test_variance_bootstrap_matches_resampled_rows_and_covers_the_principal_share():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5)) * np.array([3, 1, 1, 1, 1]) + 7
    plan = bootstrap_plan(100, 20, 0)
    out = variance_bootstrap(X, plan, 2)
    for r, rows in enumerate(plan):                             # the literal resample
        v = X[rows].var(axis=0)
        assert out["principal_var_share"][r] == pytest.approx(v.max() / v.sum(), rel=1e-5)
        assert out["topk_var_share"][r] == pytest.approx(np.sort(v)[-2:].sum() / v.sum(), rel=1e-5)
        assert out["top"][r].tolist() == np.argsort(-v)[:2].tolist()
    assert bootstrap_overlap(np.array([[0, 1], [2, 3]]), np.array([[1, 5], [4, 5]]), 6).tolist() == [1, 0]
    s2 = np.array([4.0, 1.0, 1.0, 1.0, 1.0])
    bounds, bounds_k = [], []
    for s in range(SIMS):
        X = rng.standard_normal((300, 5)) * np.sqrt(s2)
        b = variance_bootstrap(X, bootstrap_plan(300, 300, s), 2)
        bounds.append(percentile_interval(b["principal_var_share"], 0.9))
        bounds_k.append(percentile_interval(b["topk_var_share"], 0.9))
    cov = _coverage(bounds, 0.5)
    assert 0.85 <= cov <= 0.95, cov
    cov_k = _coverage(bounds_k, 5 / 8)     # the second dimension is a four-way tie: the max is biased up
    assert cov_k >= 0.5, cov_k


# ------------------------------------------------------------------ the runners
def _pair(n=300, d=12, L=4):
    return planted_reps(n, d, L, seed=0, rogue=(3,), model="pre"), planted_reps(n, d, L, seed=0, rogue=(3, 7),
                                                                                model="ft")


def test_run_cka_intervals_jackknife_helper_and_same_layer_null():
    from ftgeo.analyses.cka import SAME_LAYER_COLUMNS, run_cka

    a, b = _pair()
    res = run_cka(a, b, device="numpy", progress=False, n_permutations=99, n_blocks=10)
    t = res.table("cka")
    assert list(t.columns) == ["pair", "set_a", "set_b", "layer_a", "layer_b", "cka", "cka_low", "cka_high"]
    fin = t.dropna(subset=["cka_low"])
    assert len(fin) == len(t) and (fin.cka_low <= fin.cka_high).all()
    assert res.array("jack_2").shape == (10, 4, 4) and res.leave_outs("ft", "pre").shape == (10, 4, 4)
    v, lo, hi = res.jackknife(lambda M: M[1, 2], "pre", "ft")          # one cell = the table's bounds
    row = t[(t.pair == "pre x ft") & (t.layer_a == 1) & (t.layer_b == 2)].iloc[0]
    assert (v, lo, hi) == pytest.approx((row.cka, row.cka_low, row.cka_high))
    v2, lo2, hi2 = res.jackknife(lambda M: M[2, 1], "ft", "pre")       # the transposed pair
    assert (v2, lo2, hi2) == pytest.approx((v, lo, hi))
    diff = res.jackknife(lambda M: np.mean(np.diag(M)[:2]) - np.mean(np.diag(M)[2:]), "pre", "ft")
    assert diff[1] <= diff[2]
    same = res.same_layer()
    assert list(same.columns) == SAME_LAYER_COLUMNS and same.layer.tolist() == [0, 1, 2, 3]
    assert np.allclose(same.cka_p, 0.01) and (same.cka_null_q95 < same.cka).all()
    assert res.meta["nulls"]["cka"]["n_permutations"] == 99 and res.meta["intervals"]["cka"]["blocks"] == 10
    assert {"same_layer_mean_low", "same_layer_mean_high"} <= set(res.summary().columns)
    off = run_cka(a, b, device="numpy", progress=False, intervals=False, n_permutations=0)
    np.testing.assert_array_equal(off.table("cka").cka, t.cka)          # the point estimates do not move
    assert off.table("cka").cka_low.isna().all() and "jack_0" not in off.arrays
    assert off.same_layer().cka_p.isna().all()
    mb = run_cka(a, b, batch_size=100, progress=False, n_permutations=0)
    assert mb.table("cka").cka_low.isna().all() and "minibatch CKA has no interval" in " ".join(mb.meta["notes"])
    one = run_cka(a, device="numpy", progress=False)
    assert one.same_layer().empty and [s for s, _ in one.displays()] == ["heatmaps"]


def test_run_cka_words_of_a_sentence_leave_together():
    from ftgeo.analyses.cka import run_cka

    rng = np.random.default_rng(0)
    ids = [f"s{i // 4}:{i % 4}" for i in range(120)]                     # 30 sentences of 4 words
    X = rng.standard_normal((120, 5))
    mk = lambda M: InMemoryRepresentations([M], labels=np.zeros(120, int), ids=ids,   # noqa: E731
                                           manifest={"pooling": "word", "model": "m"})
    res = run_cka(mk(X), mk(X + rng.standard_normal((120, 5))), device="numpy", progress=False, n_permutations=0,
                  names=["a", "b"])
    assert res.meta["intervals"]["cka"]["unit"].startswith("sentence")


def test_run_isotropy_and_rogue_interval_columns(tmp_path):
    from ftgeo.analyses.isotropy import run_isotropy
    from ftgeo.analyses.rogue import run_rogue

    a, b = _pair()
    iso = run_isotropy(a, b, run=tmp_path, n_pairs=None, names=["pre", "ft"])
    t = iso.table("isotropy")
    assert list(t.columns) == ["set", "layer", "isoscore", "isoscore_low", "isoscore_high", "avg_cosine",
                               "avg_cosine_low", "avg_cosine_high", "n", "d"]
    assert t[["isoscore_low", "avg_cosine_low"]].notna().all().all() and (t.isoscore_low <= t.isoscore_high).all()
    off = run_isotropy(a, b, n_pairs=None, names=["pre", "ft"], intervals=False)
    np.testing.assert_array_equal(off.table("isotropy").isoscore, t.isoscore)
    assert off.table("isotropy").isoscore_low.isna().all()
    rg = run_rogue(a, b, k=2, names=["pre", "ft"], n_resamples=200)
    lay = rg.table("layers")
    assert list(lay.columns) == ["set", "layer", "principal", "principal_var_share", "principal_var_share_low",
                                 "principal_var_share_high", "principal_cos_share", "topk_var_share",
                                 "topk_var_share_low", "topk_var_share_high", "expected_cosine"]
    assert (lay.principal_var_share_low <= lay.principal_var_share).all()
    assert (lay.principal_var_share <= lay.principal_var_share_high + 1e-12).all()
    ov = rg.table("overlap")
    assert list(ov.columns) == ["set_a", "set_b", "layer", "k", "overlap", "overlap_low", "overlap_high", "shared"]
    # pre's second dimension is the largest of eleven random-walk dims: a resample may pick ft's 7 there
    assert (ov.overlap == 1).all() and (ov.overlap_low == 1).all() and ov.overlap_high.isin([1, 2]).all()
    assert rg.array("boot_principal_var_share_1").shape == (200, 4)
    diff, lo, hi = rg.share_difference("pre", "ft", 3)          # ft spreads the variance over two rogue dims
    assert diff < 0 and lo <= diff <= hi and hi < 0
    off = run_rogue(a, b, k=2, names=["pre", "ft"], intervals=False)
    assert off.table("layers").principal_var_share_low.isna().all() and not off.arrays
    np.testing.assert_array_equal(off.table("layers").principal_var_share, lay.principal_var_share)


def test_run_threshold_intervals_label_null_and_paired_gap(tmp_path):
    from ftgeo.analyses.threshold import run_threshold

    tr, ev = planted_reps(2000, 12, 4, seed=3), planted_reps(4000, 12, 4, seed=4)
    head = lambda Z: np.stack([-Z[:, 3], Z[:, 3]], axis=1)   # noqa: E731 - the Bayes rule on dim 3
    res = run_threshold(tr, ev, run=tmp_path, head=head, n_label_permutations=10)
    t = res.table("threshold")
    assert list(t.columns[7:]) == ["eval_accuracy", "eval_accuracy_low", "eval_accuracy_high", "eval_accuracy_p",
                                   "eval_accuracy_null_q05", "eval_accuracy_null_q50", "eval_accuracy_null_q95",
                                   "full_accuracy", "full_accuracy_low", "full_accuracy_high"]
    assert (t.eval_accuracy_low <= t.eval_accuracy).all() and (t.eval_accuracy <= t.eval_accuracy_high).all()
    # a cut fitted to shuffled labels lands anywhere with either polarity: a wide, bimodal chance baseline
    assert (t.eval_accuracy_p <= 0.2).all() and (t.eval_accuracy_null_q50 < 0.7).all()
    assert res.array("null_eval_accuracy_svm_3").shape == (10,)
    assert t.full_accuracy_low.iloc[0] < 0.841 < t.full_accuracy_high.iloc[0]
    assert res.array("correct_svm_3").shape == (4000,) and res.array("correct_full").mean() == t.full_accuracy[0]
    gap, lo, hi = res.accuracy_gap("best")
    # nearly the same rule as the head's: a gap under 2 points, tight because the two are paired
    assert lo <= gap <= hi and abs(gap) < 0.02 and hi - lo < 0.02
    assert gap == pytest.approx(t.full_accuracy[0] - t[t.method == "best"].eval_accuracy.iloc[0])
    off = run_threshold(tr, ev, head=head, intervals=False, n_label_permutations=0)
    assert off.table("threshold").eval_accuracy_low.isna().all() and off.table("threshold").eval_accuracy_p.isna().all()
    np.testing.assert_array_equal(off.table("threshold").eval_accuracy, t.eval_accuracy)


def test_threshold_label_permutation_pvalues_uniform_under_the_null_and_small_under_an_effect():
    """An accuracy is discrete, so the observed value ties with some shuffled-label values: the reported
    p-value (ties counted against it) is conservative, and with ties broken at random it is uniform."""
    from ftgeo.analyses.threshold import run_threshold

    rng = np.random.default_rng(1)
    reported, randomized = [], []
    for s in range(200):
        mk = lambda n: InMemoryRepresentations([rng.standard_normal((n, 3)) * [3, 1, 1]],   # noqa: E731
                                               labels=rng.integers(0, 2, n))
        res = run_threshold(mk(60), mk(400), methods=["best"], full_accuracy=0.5, intervals=False,
                            n_label_permutations=9, seed=s)
        obs = float(res.table("threshold").eval_accuracy.iloc[0])
        null = res.array("null_eval_accuracy_best_0")
        reported.append(float(res.table("threshold").eval_accuracy_p.iloc[0]))
        randomized.append((np.sum(null > obs) + rng.uniform() * (1 + np.sum(null == obs))) / (null.size + 1))
    assert stats.kstest(randomized, "uniform").pvalue > 0.01
    assert np.all(np.array(reported) >= np.array(randomized))
    assert np.mean(np.array(reported) <= 0.1) <= 0.1 + 0.05                           # valid at 10%
    X = rng.standard_normal((400, 3)) * [3, 1, 1]
    y = (X[:, 0] > 0).astype(int)                                                     # dimension 0 is the label
    res = run_threshold(InMemoryRepresentations([X[:200]], labels=y[:200]),
                        InMemoryRepresentations([X[200:]], labels=y[200:]), methods=["best"], full_accuracy=0.5,
                        intervals=False, n_label_permutations=19)
    assert res.table("threshold").eval_accuracy_p.iloc[0] == pytest.approx(1 / 20)


def test_run_ablation_interval_per_point(tmp_path):
    from ftgeo.analyses.ablation import run_ablation

    tr, ev = planted_reps(500, 12, 4, seed=3), planted_reps(800, 12, 4, seed=4)
    head = lambda Z: np.stack([-Z[:, 3], Z[:, 3]], axis=1)   # noqa: E731
    ab = run_ablation(tr, ev, head=head, run=tmp_path, ks=[0, 1, 12], n_random=3)
    c = ab.table("curve")
    assert list(c.columns) == ["mode", "k", "draw", "accuracy", "accuracy_low", "accuracy_high", "dims"]
    assert (c.accuracy_low <= c.accuracy).all() and (c.accuracy <= c.accuracy_high).all()
    m = ab.mean_curve()
    assert m[m["mode"] == "random"]["low"].isna().all() and m[m["mode"] == "highest"]["low"].notna().all()
    assert ab.meta["full_accuracy_low"] < ab.meta["full_accuracy"] < ab.meta["full_accuracy_high"]
    off = run_ablation(tr, ev, head=head, ks=[0, 1, 12], n_random=3, intervals=False)
    assert off.table("curve").accuracy_low.isna().all()
    np.testing.assert_array_equal(off.table("curve").accuracy, c.accuracy)


def test_cka_jackknife_bounds_stay_in_the_statistics_range():
    """One dominant block makes the jackknife's normal interval leave [0, 1]; the bounds are clipped to it
    (biased CKA), and only the upper end for debiased CKA, which can be negative."""
    from ftgeo.analyses.cka import cka_range, jackknife_bounds
    M = np.array([[0.01]])
    J = np.array([0.9] + [0.0] * 19).reshape(20, 1, 1)    # one block holds the whole similarity
    lo, hi = jackknife_bounds(M, J, 0.9)
    assert lo[0, 0] < 0 < hi[0, 0]                         # unclipped: below the range
    lo, hi = jackknife_bounds(M, J, 0.9, clip=cka_range(False))
    assert lo[0, 0] == 0.0 and 0 < hi[0, 0] <= 1.0
    J2 = np.array([-0.9] + [1.0] * 19).reshape(20, 1, 1)
    lo, hi = jackknife_bounds(np.array([0.99]).reshape(1, 1), J2, 0.9, clip=cka_range(True))
    assert hi[0, 0] == 1.0 and lo[0, 0] < 0
