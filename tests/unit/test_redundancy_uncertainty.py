"""Intervals and null baselines of the redundancy analyses (compression, variance, neurons) against known
answers: nominal 90% intervals cover a known population value in 85-95% of >= 200 seeded simulations;
label-permutation p-values of the best neuron are uniform under the null (KS) and small under a planted
effect; the point estimates are those of a run without intervals."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ftgeo.analyses._uncertainty import (IntervalSpec, accuracy_intervals, accuracy_with_interval,
                                         paired_difference)
from ftgeo.analysis.compression import drop_count_interval, variance_comparison, variance_jackknife
from ftgeo.analysis.neurons import single_neuron_accuracy, single_neuron_null, stratified_folds
from ftgeo.analysis.resampling import jackknife_blocks, permutation_pvalue, row_groups
from ftgeo.reps import InMemoryRepresentations

SIMS = 200


@dataclass(frozen=True)
class _Spec(IntervalSpec):
    seed: int = 0


def _coverage(lo, hi, truth):
    lo, hi = np.asarray(lo), np.asarray(hi)
    return float(np.mean((lo <= truth) & (truth <= hi)))


# ----------------------------------------------------------------------------- accuracies, many at once
def test_batched_accuracy_intervals_equal_the_one_accuracy_helper():
    rng = np.random.default_rng(0)
    c = rng.random((4, 240)) < 0.7
    spec = _Spec(n_resamples=300)
    out = accuracy_intervals(c, np.arange(240), spec)
    assert out["method"] == "wilson"
    sent = row_groups([f"s{g}:{i}" for i, g in enumerate(rng.integers(0, 60, 240))], "word")
    clus = accuracy_intervals(c, sent, spec)
    assert clus["method"].startswith("cluster bootstrap")
    for i in range(4):
        one = accuracy_with_interval(c[i], np.arange(240), spec)
        assert (one["accuracy_low"], one["accuracy_high"]) == (out["accuracy_low"][i], out["accuracy_high"][i])
        one = accuracy_with_interval(c[i], sent, spec)       # the same resamples: the same numbers
        assert one["accuracy_low"] == pytest.approx(clus["accuracy_low"][i], abs=1e-12)
        assert one["accuracy_high"] == pytest.approx(clus["accuracy_high"][i], abs=1e-12)
        assert clus["accuracy_low"][i] <= c[i].mean() <= clus["accuracy_high"][i]
    off = accuracy_intervals(c, None, _Spec(intervals=False))
    assert np.isnan(off["accuracy_low"]).all() and off["accuracy"][0] == c[0].mean()


def test_mean_over_draws_interval_covers_the_population_accuracy():
    # a random-dimension curve point: each eval row's correctness averaged over 5 draws (not 0/1)
    rng = np.random.default_rng(1)
    out = []
    for s in range(SIMS):
        p = rng.uniform(0.4, 1.0, 300)                   # population mean accuracy 0.7
        v = rng.binomial(5, p) / 5
        r = accuracy_intervals(v, np.arange(300), _Spec(n_resamples=300, seed=s), binary=False)
        out.append((r["accuracy_low"][0], r["accuracy_high"][0]))
    assert r["method"] == "bootstrap (percentile)"
    cov = _coverage(*np.array(out).T, 0.7)
    print("coverage, mean over draws:", cov)
    assert 0.85 <= cov <= 0.95, cov


def _paired_sample(rng, n):
    # joint (a, b): P(1,1) = .70, P(1,0) = .12, P(0,1) = .05, P(0,0) = .13  ->  E[a] - E[b] = 0.07
    u = rng.choice(4, n, p=[0.70, 0.12, 0.05, 0.13])
    return np.isin(u, (0, 1)), np.isin(u, (0, 2))


def test_paired_difference_covers_a_known_difference():
    rng = np.random.default_rng(2)
    out = []
    for s in range(SIMS):
        a, b = _paired_sample(rng, 400)
        d = paired_difference(a, b, None, _Spec(n_resamples=300, seed=s))
        out.append((d["diff_low"], d["diff_high"]))
    assert d["method"] == "paired bootstrap (percentile)"
    cov = _coverage(*np.array(out).T, 0.07)
    print("coverage, paired difference:", cov)
    assert 0.85 <= cov <= 0.95, cov


def test_paired_difference_over_sentences_covers_a_known_difference():
    # words of one sentence share its difficulty: the resampling unit is the sentence
    rng = np.random.default_rng(3)
    out = []
    for s in range(SIMS):
        hard = rng.random(150) < 0.5                                   # 150 sentences x 3 words
        pa = np.repeat(np.where(hard, 0.55, 0.95), 3)
        pb = np.repeat(np.where(hard, 0.45, 0.90), 3)                  # E[a] - E[b] = 0.5 (0.1 + 0.05) = 0.075
        z = rng.random(450)
        a, b = z < pa, z < pb                                          # same row: strongly paired
        groups = np.repeat(np.arange(150), 3)
        d = paired_difference(a, b, groups, _Spec(n_resamples=300, seed=s))
        out.append((d["diff_low"], d["diff_high"]))
    assert d["method"] == "paired cluster bootstrap (percentile)"
    cov = _coverage(*np.array(out).T, 0.075)
    print("coverage, paired difference over sentences:", cov)
    assert 0.85 <= cov <= 0.95, cov


# ----------------------------------------------------------------------------- variance ratios: jackknife
def _ratio_truth(lp, lf):
    return (lf / lf.sum()) / (lp / lp.sum())


@pytest.mark.parametrize("paired", [False, True])
def test_variance_jackknife_covers_known_ratios(paired):
    rng = np.random.default_rng(4 + paired)
    n, d = 500, 6
    lp = np.array([6.0, 3.0, 1.5, 0.8, 0.4, 0.2])
    scale = np.array([1.8, 0.9, 0.8, 0.7, 0.6, 0.5])      # fine-tuned: the first component grows
    noise = 0.05
    lf = lp * scale ** 2 + (noise ** 2 if paired else 0.0)
    if not paired:
        lf = np.array([20.0, 2.5, 1.0, 0.5, 0.3, 0.1])
    truth = _ratio_truth(lp, lf)
    lows, highs = [], []
    for s in range(SIMS):
        A = rng.normal(size=(n, d)) * np.sqrt(lp)
        B = A * scale + noise * rng.normal(size=(n, d)) if paired else rng.normal(size=(n, d)) * np.sqrt(lf)
        j = variance_jackknife(A, B, jackknife_blocks(n, 20, random_state=s), level=0.9)
        lows.append(j["ratio_low"])
        highs.append(j["ratio_high"])
    lows, highs = np.array(lows), np.array(highs)
    for i in range(3):                                  # the well-separated leading components
        cov = _coverage(lows[:, i], highs[:, i], truth[i])
        print(f"coverage, variance ratio (paired={paired}), component {i + 1}:", cov)
        assert 0.85 <= cov <= 0.95, (i, cov)


def test_variance_jackknife_leave_outs_equal_a_recomputation_from_rows():
    rng = np.random.default_rng(6)
    A, B = rng.normal(size=(90, 5)) * [3, 2, 1, 1, 0.5], rng.normal(size=(90, 5)) * [5, 1, 1, 0.5, 0.5]
    blocks = jackknife_blocks(90, 6, random_state=0)
    j = variance_jackknife(A, B, blocks, level=0.9)
    for b in range(6):
        keep = blocks != b
        v = variance_comparison(A[keep], B[keep])
        np.testing.assert_allclose(j["leave_out_ratio"][b], v["ratio"], rtol=1e-9)
        np.testing.assert_allclose(j["leave_out_pre"][b], v["ratio_pre"], rtol=1e-9)
    from ftgeo.analysis.resampling import jackknife_interval
    for i in range(5):                                   # the vectorised interval is jackknife_interval on the log
        c, lo, hi = jackknife_interval(np.log(variance_comparison(A, B)["ratio"][i]),
                                       np.log(j["leave_out_ratio"][:, i]), 0.9)
        assert (j["ratio_low"][i], j["ratio_high"][i]) == pytest.approx((np.exp(lo), np.exp(hi)), rel=1e-8)
    same = variance_jackknife(B, B, blocks)
    np.testing.assert_allclose(same["ratio_low"], 1.0, atol=1e-9)    # identical sets: no spread at all
    np.testing.assert_allclose(same["ratio_high"], 1.0, atol=1e-9)


def test_drop_count_interval_definitions():
    ratio = np.array([5.0, 2.0, 1.2, 0.9, 0.5])
    lo = np.array([4.0, 1.5, 0.95, 0.8, 0.4])
    hi = np.array([6.0, 2.5, 1.4, 1.05, 0.7])
    # point: 3 components before the first ratio < 1; low: 2 wholly above 1; high: 4 before the first wholly below
    assert drop_count_interval(ratio, lo, hi) == (3, 2, 4)
    assert drop_count_interval(ratio, np.full(5, np.nan), np.full(5, np.nan))[1:] != (0, 0)
    assert np.isnan(drop_count_interval(ratio, np.full(5, np.nan), np.full(5, np.nan))[1])
    # the bounds never exclude the point count, even when a point lies outside its bias-corrected interval
    assert drop_count_interval([1.1, 0.9], [1.2, 0.5], [1.3, 0.95]) == (1, 1, 1)
    assert drop_count_interval([2.0, 1.5], [1.5, 1.2], [2.5, 1.9]) == (None, 2, 2)


# ----------------------------------------------------------------------------- best neuron: label permutation
def test_best_neuron_null_is_exact_under_no_relation_and_small_under_an_effect():
    rng = np.random.default_rng(7)
    B = 39
    reported, randomised = [], []
    for s in range(SIMS):
        y = rng.integers(0, 2, 100)
        X = rng.normal(size=(100, 8))
        splits = stratified_folds(y, 3, s)
        obs = single_neuron_accuracy(X, y, cv=3, random_state=s).max()
        null = single_neuron_null(X, y, splits, B, random_state=s + 10_000).max(axis=1)
        reported.append(permutation_pvalue(obs, null))
        # CV accuracies are discrete (ties, e.g. at the majority rate): the permutation distribution is exact
        # when ties are broken at random, and the reported p-value (ties count against) is conservative
        gt, eq = np.sum(null > obs + 1e-12), np.sum(np.abs(null - obs) <= 1e-12)
        randomised.append((gt + rng.uniform() * (eq + 1)) / (B + 1))
    print("KS (tie-randomised p):", stats.kstest(randomised, "uniform").pvalue,
          "one-sided KS (reported p):", stats.kstest(reported, "uniform", alternative="greater").pvalue,
          "P(p <= 0.1):", np.mean(np.array(reported) <= 0.1))
    assert stats.kstest(randomised, "uniform").pvalue > 0.01
    assert stats.kstest(reported, "uniform", alternative="greater").pvalue > 0.01    # never anti-conservative
    assert np.mean(np.array(reported) <= 0.1) <= 0.1 + 0.05
    y = rng.integers(0, 2, 100)
    X = rng.normal(size=(100, 8))
    X[:, 3] += 1.5 * y
    splits = stratified_folds(y, 3, 0)
    obs = single_neuron_accuracy(X, y, cv=3, random_state=0).max()
    null = single_neuron_null(X, y, splits, B, random_state=1).max(axis=1)
    assert permutation_pvalue(obs, null) == pytest.approx(1 / (B + 1))


def test_neuron_null_batches_permutations_like_single_refits():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 3, 120)
    X = rng.normal(size=(120, 5))
    splits = stratified_folds(y, 3, 0)
    null = single_neuron_null(X, y, splits, 4, random_state=3, memory=2 * 120 * 5)   # two permutations a call
    perms = [np.random.default_rng(3).permutation(120)]
    g = np.random.default_rng(3)
    perms = [g.permutation(120) for _ in range(4)]
    loop = np.array([single_neuron_accuracy(X[p], y, cv=3, random_state=0) for p in perms])
    np.testing.assert_allclose(null, loop, atol=1e-12)


# ----------------------------------------------------------------------------- the runners
def _sets(n, signal, seed, d=12, K=3, y=None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n) if y is None else y
    X = rng.normal(size=(n, d))
    X[:, 2] += signal * np.array([-1.0, 0.0, 1.0])[y]
    X[:, 7] += 0.6 * signal * np.array([1.0, -1.0, 0.0])[y]
    return InMemoryRepresentations([rng.normal(size=(n, d)), X], y, label_names=["neg", "neu", "pos"],
                                   manifest={"model": "toy"})


@pytest.fixture(scope="module")
def sets():
    ev_pre = _sets(240, 0.3, 2)
    ev_ft = _sets(240, 2.5, 4, y=np.asarray(ev_pre.labels))     # the same eval examples (labels) in both sets
    return {"tr_pre": _sets(450, 0.3, 1), "ev_pre": ev_pre, "tr_ft": _sets(450, 2.5, 3), "ev_ft": ev_ft,
            "gen": _sets(300, 0.0, 5)}


def _ordered(df, col):
    v, lo, hi = (df[c].to_numpy(float) for c in (col, f"{col}_low", f"{col}_high"))
    cols = list(df.columns)
    assert cols.index(f"{col}_low") == cols.index(col) + 1 and cols.index(f"{col}_high") == cols.index(col) + 2
    assert np.isfinite(lo).all() and np.isfinite(hi).all()
    assert (lo <= v + 1e-12).all() and (v <= hi + 1e-12).all()


def test_compression_intervals_points_and_paired_arrays(sets):
    from ftgeo.analyses.compression import run_compression
    kw = dict(general=sets["gen"], ks=[1, 2, 4, 12], n_random=3, n_resamples=200, progress=False)
    tr, ev = [sets["tr_pre"], sets["tr_ft"]], [sets["ev_pre"], sets["ev_ft"]]
    on = run_compression(tr, ev, **kw)
    off = run_compression(tr, ev, intervals=False, **kw)
    old_cols = ["model", "layer", "source", "k", "accuracy", "accuracy_std", "n_draws"]
    pd.testing.assert_frame_equal(on.curve[old_cols], off.curve[old_cols])          # point estimates unchanged
    assert off.curve.accuracy_low.isna().all() and off.full.accuracy_low.isna().all()
    _ordered(on.curve, "accuracy")
    _ordered(on.points, "accuracy")
    _ordered(on.full, "accuracy")
    assert len(on.points) == 2 * (4 + 4 + 3 * 3 + 1)                                # every classifier, every draw
    rnd = on.curve[(on.curve.source == "random") & (on.curve.k == 2)].iloc[0]
    draws = on.points[(on.points.source == "random") & (on.points.k == 2) & (on.points.model == rnd.model)]
    assert rnd.accuracy == pytest.approx(draws.accuracy.mean())
    full = on.full.set_index("model")
    assert full.loc["pretrained", "finetuned_accuracy_low"] == full.loc["finetuned", "accuracy_low"]
    # k = 5 is off the grid: computed for the paired table, its correctness saved next to every grid k
    p = on.table("paired").set_index("model")
    assert list(on.table("paired").k) == [5, 5]
    ok5, okall = on.eval_correct("finetuned", 1, 5), on.eval_correct("finetuned", 1)
    assert ok5.dtype == bool and ok5.shape == (240,)
    assert p.loc["finetuned", "accuracy"] == pytest.approx(ok5.mean())
    assert p.loc["finetuned", "diff"] == pytest.approx(ok5.mean() - okall.mean())
    assert p.loc["finetuned", "diff_low"] <= p.loc["finetuned", "diff"] <= p.loc["finetuned", "diff_high"]
    assert on.eval_correct("pretrained", 1, 4).mean() == pytest.approx(
        on.curve.query("model == 'pretrained' and source == 'in_domain' and k == 4").accuracy.iloc[0])
    assert on.eval_groups("finetuned").tolist() == list(range(240))
    assert on.meta["intervals"]["accuracy"]["method"] == "wilson"


def test_variance_intervals_and_count(sets, tmp_path):
    from ftgeo.analyses.variance import run_variance
    on = run_variance(sets["tr_pre"], sets["tr_ft"], run=tmp_path, n_blocks=10)
    off = run_variance(sets["tr_pre"], sets["tr_ft"], intervals=False)
    old = ["layer", "component", "ratio_pre", "ratio_ft", "ratio"]
    pd.testing.assert_frame_equal(on.variance[old], off.variance[old])
    cols = list(on.variance.columns)
    assert cols == ["layer", "component", "ratio_pre", "ratio_pre_low", "ratio_pre_high", "ratio_ft", "ratio_ft_low",
                    "ratio_ft_high", "ratio", "ratio_low", "ratio_high"]
    assert (on.variance.ratio_low <= on.variance.ratio_high).all() and (on.variance.ratio_low > 0).all()
    assert off.variance.ratio_low.isna().all()
    drop = on.summary().iloc[0]
    assert drop.first_below_one == 3 and drop.n_above_before_drop == 2
    assert drop.n_above_before_drop_low <= 2 <= drop.n_above_before_drop_high
    assert drop.first_below_one_low == drop.n_above_before_drop_low + 1
    assert on.array("leave_out_ratio__L1").shape == (10, 12)
    assert on.meta["intervals"]["ratio"]["blocks"] == 10
    assert (tmp_path / "figures" / "variance_layer1.png").is_file()


def test_neurons_intervals_null_and_paired(sets, tmp_path):
    from ftgeo.analyses.neurons import run_neurons
    tr, ev = [sets["tr_pre"], sets["tr_ft"]], [sets["ev_pre"], sets["ev_ft"]]
    on = run_neurons(tr, ev, n_select=3, n_label_permutations=9, n_resamples=200, run=tmp_path, progress=False)
    off = run_neurons(tr, ev, n_select=3, intervals=False, progress=False)
    for name, old in [("paper", ["model", "layer", "method", "n_dims", "eval_accuracy"]),
                      ("single", ["model", "layer", "dim", "cv_accuracy", "eval_accuracy"]),
                      ("selection", ["model", "layer", "step", "dim", "cv_accuracy", "eval_accuracy"])]:
        pd.testing.assert_frame_equal(on.table(name)[old], off.table(name)[old])
        _ordered(on.table(name), "eval_accuracy")
        assert off.table(name).eval_accuracy_low.isna().all()
    null = on.table("null").set_index("model")
    assert null.loc["finetuned", "best_1_p"] == pytest.approx(1 / 10)      # far above every shuffled labelling
    assert null.loc["finetuned", "best_1"] > null.loc["finetuned", "best_1_null_q95"]
    assert null.loc["pretrained", "best_1_null_q05"] <= null.loc["pretrained", "best_1_null_q95"] < 0.6
    assert (null.n_label_permutations == 9).all() and on.array("null_best_1__finetuned__L1").shape == (9,)
    assert off.table("null").best_1_p.isna().all() and off.meta["nulls"] == {}
    paper = on.table("paper").set_index(["model", "method"])
    for m in ("best_1", "natural", "all_dims", "random_guess"):
        ok = on.eval_correct("finetuned", 1, m)
        assert ok.dtype == bool and ok.mean() == pytest.approx(paper.loc[("finetuned", m), "eval_accuracy"])
    pr = on.table("paired")
    cross = pr[(pr.model_a == "finetuned") & (pr.model_b == "pretrained") & (pr.method_a == "best_1")].iloc[0]
    assert cross["diff"] == pytest.approx(paper.loc[("finetuned", "best_1"), "eval_accuracy"]
                                          - paper.loc[("pretrained", "best_1"), "eval_accuracy"])
    assert cross.diff_low > 0.2                                             # far better after fine-tuning
    assert set(on.meta["nulls"]) == {"best_1", "fraction_above"}
    for stem in on.meta["figures"]:
        assert (tmp_path / "figures" / f"{stem}.png").is_file()


def test_uncertainty_flags_on_the_command_line(sets, tmp_path, monkeypatch):
    import ftgeo.extract
    from ftgeo.cli.main import main
    from ftgeo.results import load_result
    table = {"pre_tr": sets["tr_pre"], "pre_ev": sets["ev_pre"], "ft_tr": sets["tr_ft"], "ft_ev": sets["ev_ft"]}
    monkeypatch.setattr(ftgeo.extract, "open_reps", lambda path: table[path])
    assert main(["analyze", "neurons", "--train-reps", "pre_tr", "ft_tr", "--eval-reps", "pre_ev", "ft_ev",
                 "--n-select", "3", "--n-label-permutations", "4", "--ci-level", "0.8", "--no-figures",
                 "--run", str(tmp_path), "--no-progress"]) == 0
    res = load_result(tmp_path / "results" / "neurons")
    assert (res.table("null").n_label_permutations == 4).all() and res.meta["intervals"]["eval_accuracy"]["level"] == 0.8
    assert main(["analyze", "variance", "--train-reps", "pre_tr", "ft_tr", "--no-intervals", "--run", str(tmp_path),
                 "--no-figures"]) == 0
    assert load_result(tmp_path / "results" / "variance").variance.ratio_low.isna().all()


def test_word_level_sets_resample_sentences(sets):
    from ftgeo.analyses.neurons import _single_eval_intervals, run_neurons
    from ftgeo.analysis.neurons import SalientNeurons

    def words(r, seed):
        n = np.asarray(r.labels).size
        sent = np.sort(np.random.default_rng(seed).integers(0, n // 4, n))
        ids = [f"s{g}:{i}" for i, g in enumerate(sent)]
        return InMemoryRepresentations([r.layer(0), r.layer(1)], r.labels, label_names=list(r.label_names), ids=ids,
                                       manifest={"model": "toy", "pooling": "word"})

    tr, ev = words(sets["tr_ft"], 0), words(sets["ev_ft"], 1)
    res = run_neurons(tr, ev, n_select=3, n_label_permutations=0, n_resamples=200, progress=False)
    assert res.meta["intervals"]["eval_accuracy"]["method"] == "cluster bootstrap (percentile)"
    assert res.meta["intervals"]["eval_accuracy"]["unit"].startswith("sentence")
    _ordered(res.table("paper"), "eval_accuracy")
    # every dimension's interval from per-sentence counts = the interval from its per-row correctness
    Xtr, ytr = tr.layer(1), np.asarray(tr.labels)
    Xev, yev = ev.layer(1), np.asarray(ev.labels)
    sn = SalientNeurons(cv=3, n_select=1).fit(Xtr, ytr)
    groups = row_groups(ev.ids, "word")
    spec = _Spec(n_resamples=200)
    acc, lo, hi = _single_eval_intervals(sn, Xev, yev, groups, spec, set())
    Z = (Xev - sn.train_mean_) / sn.train_scale_
    codes = np.searchsorted(sn.classes_, yev)
    for j in (0, 2, 7):
        W = sn.single_models_[j]
        z = W[0] + Z[:, [j]] @ W[1:]
        pred = z.argmax(axis=1) if z.shape[1] > 1 else (z[:, 0] > 0).astype(int)
        ref = accuracy_intervals(pred == codes, groups, spec)
        assert acc[j] == pytest.approx(ref["accuracy"][0])
        assert (lo[j], hi[j]) == pytest.approx((ref["accuracy_low"][0], ref["accuracy_high"][0]), abs=1e-12)
