"""Intervals and the label-permutation baseline of the probes (issue 13): the seed-mean intervals cover a known
population accuracy in 85-95% of >= 200 simulations; the baseline's p-values are uniform under the null (KS) and
small under a planted effect; the runner's columns, arrays and on/off behaviour; point estimates unchanged."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ftgeo.analyses.probe import ProbeResult, probe_layers, run_probe
from ftgeo.analyses._uncertainty import null_summary
from ftgeo.analysis.probes import ProbeGridSearch, seed_mean_interval
from ftgeo.analysis.resampling import wilson_interval
from ftgeo.reps import InMemoryRepresentations
from ftgeo.results import load_result
from ftgeo.run import RunDir

SIMS = 300
FAST = dict(max_epochs=150, patience=10, lr=1e-2)


@pytest.fixture
def one_thread():
    """Tiny probes train faster on one torch thread (no hand-offs on a shared machine)."""
    import torch
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def _coverage(intervals, truth):
    lo, hi = np.array(intervals, dtype=float).T[:2]
    return float(np.mean((lo <= truth) & (truth <= hi)))


# ----------------------------------------------------------------------------- the seed-mean intervals
def _fixed_probes(u, p):
    """Per-row correctness of S fixed probes: probe s is right on the rows of difficulty u < p_s, so the
    seeds' errors are strongly correlated (as for real probes) and E_x[correct_s] = p_s exactly."""
    return u[None, :] < np.asarray(p)[:, None]


def test_within_seed_interval_covers_the_mean_accuracy_of_fixed_probes():
    rng = np.random.default_rng(0)
    p = np.array([0.70, 0.72, 0.68, 0.75, 0.71])
    out = [seed_mean_interval(_fixed_probes(rng.uniform(size=300), p), None, 0.9, n_resamples=300,
                              random_state=s) for s in range(SIMS)]
    cov = _coverage([(o["low"], o["high"]) for o in out], p.mean())
    assert 0.85 <= cov <= 0.95, cov


def test_within_seed_interval_resamples_sentences():
    """Words of one sentence share its difficulty: a row bootstrap would be too narrow, the sentence one covers."""
    rng = np.random.default_rng(1)
    p = np.array([0.60, 0.66, 0.63])
    groups = np.repeat(np.arange(100), 4)
    out, naive = [], []
    for s in range(SIMS):
        g = rng.uniform(size=100)
        u = (g[groups] + 0.05 * rng.uniform(size=groups.size)) % 1.0     # marginally uniform, correlated within
        c = _fixed_probes(u, p)
        out.append(seed_mean_interval(c, groups, 0.9, n_resamples=300, random_state=s))
        naive.append(seed_mean_interval(c, None, 0.9, n_resamples=300, random_state=s))
    cov = _coverage([(o["low"], o["high"]) for o in out], p.mean())
    assert 0.85 <= cov <= 0.95, cov
    assert _coverage([(o["low"], o["high"]) for o in naive], p.mean()) < 0.8       # rows as units: too narrow
    assert out[0]["method"].endswith("sentences resampled")


def test_total_interval_covers_the_expected_accuracy_over_seeds():
    """Seeds differ in accuracy (training randomness) and the eval set is a sample: the combined interval
    (Welch-Satterthwaite t) covers the procedure's expected accuracy."""
    rng = np.random.default_rng(2)
    out = []
    for s in range(SIMS):
        p = 0.7 + 0.03 * rng.normal(size=5)          # this run's five seeds
        out.append(seed_mean_interval(_fixed_probes(rng.uniform(size=300), p), None, 0.9, n_resamples=300,
                                      random_state=s))
    cov = _coverage([(o["total_low"], o["total_high"]) for o in out], 0.7)
    assert 0.85 <= cov <= 0.95, cov
    within = _coverage([(o["low"], o["high"]) for o in out], 0.7)
    assert within < cov                               # the within-seed interval alone ignores the seed variance
    o = out[0]
    assert o["low"] <= o["mean"] <= o["high"] and o["total_low"] <= o["mean"] <= o["total_high"]


def test_one_seed_is_wilson_and_has_no_between_seed_part():
    c = np.array([[1] * 70 + [0] * 30], bool)
    o = seed_mean_interval(c, None, 0.9)
    assert (o["low"], o["high"]) == wilson_interval(70, 100, 0.9) and o["method"] == "wilson"
    assert np.isnan(o["se_between"]) and np.isnan(o["total_low"])


# ----------------------------------------------------------------------------- label-permutation baseline
def test_label_permutation_pvalues_are_uniform_under_the_null(one_thread):
    """Labels independent of X: the first seed's accuracy is exchangeable with the null probes'. Accuracy is
    discrete, so the reported p-value (ties count against, Phipson & Smyth) is conservative; with ties broken
    at random it is exactly uniform, which is what exchangeability means."""
    rng = np.random.default_rng(3)
    p_rep, p_rand = [], []
    for s in range(200):
        X, y = rng.normal(size=(40, 2)), rng.integers(0, 2, 40)
        Xe, ye = rng.normal(size=(400, 2)), rng.integers(0, 2, 400)
        gs = ProbeGridSearch(kind="linear", l2_grid=(1e-3,), n_seeds=1, n_label_permutations=19, max_epochs=8,
                             patience=3, lr=5e-2, random_state=s).fit(X, y, X_eval=Xe, y_eval=ye)
        obs, null = gs.seed_scores_[0], gs.null_scores_
        assert null.shape == (19,)
        p_rep.append(null_summary(obs, null, "a")["a_p"])
        p_rand.append((np.sum(null > obs) + rng.uniform() * (1 + np.sum(null == obs))) / (null.size + 1))
    assert stats.kstest(p_rand, "uniform").pvalue > 0.01
    assert np.mean(np.array(p_rep) <= 0.1) <= 0.1 + 0.05      # valid (conservative under ties)


def test_label_permutation_pvalue_small_under_a_planted_effect(one_thread):
    rng = np.random.default_rng(4)

    def make(n):
        y = rng.integers(0, 2, n)
        X = rng.normal(size=(n, 5))
        X[:, 0] += 2.0 * (2 * y - 1)
        return X, y

    (X, y), (Xe, ye) = make(200), make(300)
    gs = ProbeGridSearch(kind="linear", l2_grid=(1e-3,), n_seeds=2, n_label_permutations=39, random_state=0,
                         **FAST).fit(X, y, X_eval=Xe, y_eval=ye)
    assert gs.seed_scores_[0] > 0.9
    assert null_summary(gs.seed_scores_[0], gs.null_scores_, "a")["a_p"] == pytest.approx(1 / 40)
    assert gs.null_scores_.max() < gs.seed_scores_[0]
    assert gs.null_val_scores_.shape == (39,)


def test_label_null_does_not_change_the_point_estimates(one_thread):
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(120, 4)), rng.integers(0, 3, 120)
    X[:, 0] += y
    kw = dict(kind="mlp", hidden_sizes=(8,), l2_grid=(1e-4, 1e-2), n_seeds=3, random_state=2, **FAST)
    a = ProbeGridSearch(**kw).fit(X, y, X_eval=X, y_eval=y)
    b = ProbeGridSearch(n_label_permutations=7, **kw).fit(X, y, X_eval=X, y_eval=y)
    pd.testing.assert_frame_equal(a.cv_results_, b.cv_results_)
    np.testing.assert_array_equal(a.seed_scores_, b.seed_scores_)
    np.testing.assert_array_equal(a.seed_val_scores_, b.seed_val_scores_)
    assert a.null_scores_.size == 0 and b.null_scores_.size == 7
    np.testing.assert_array_equal(a.seed_correct_.mean(axis=1), a.seed_scores_)


# ----------------------------------------------------------------------------- the runner
def _layers(seed=0, n=160, word=False):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    noise = rng.normal(size=(n, 6))
    sig = rng.normal(size=(n, 6))
    sig[:, 2] += np.where(y == 1, 2.0, -2.0)
    ids = [f"s{i // 4}:{i % 4}" for i in range(n)] if word else None
    manifest = {"pooling": "word" if word else "cls", "model": f"m{seed}"}
    return InMemoryRepresentations([noise, sig], y, ["a", "b"], ids=ids, manifest=manifest)


def test_probe_layers_interval_and_null_columns(one_thread):
    res = probe_layers(_layers(0), _layers(1), kinds=("linear",), l2_grid=(1e-4, 1e-1), n_seeds=3,
                       n_label_permutations=9, n_resamples=200, progress=False, **FAST)
    sc = res.table("scores")
    assert list(sc.columns[-3:]) == ["accuracy", "accuracy_low", "accuracy_high"]
    assert (sc["accuracy_low"] <= sc["accuracy"] + 1e-6).all() and (sc["accuracy"] <= sc["accuracy_high"] + 1e-6).all()
    ev = sc[sc.split == "eval"].iloc[0]
    k = int(round(ev["accuracy"] * 160))
    assert (ev["accuracy_low"], ev["accuracy_high"]) == pytest.approx(wilson_interval(k, 160, 0.9))
    best = res.table("best")
    cols = list(best.columns)
    assert cols[cols.index("mean"):cols.index("mean") + 4] == ["mean", "mean_low", "mean_high", "std"]
    for c in ("se_within", "se_between", "mean_total_low", "mean_total_high", "accuracy_p", "accuracy_null_q05",
              "accuracy_null_q50", "accuracy_null_q95", "n_label_permutations"):
        assert c in cols, c
    b = best.set_index("layer")
    assert b.loc[1, "mean_low"] <= b.loc[1, "mean"] <= b.loc[1, "mean_high"]
    assert b.loc[1, "accuracy_p"] == pytest.approx(1 / 10)            # the signal layer beats every shuffle
    assert b.loc[0, "accuracy_p"] > 0.1                               # the noise layer does not
    assert b.loc[1, "accuracy_null_q95"] < 0.75
    assert len(res.table("label_null")) == 2 * 9
    corr = res.eval_correct("reps", 1, "linear")
    assert corr.shape == (3, 160)
    np.testing.assert_allclose(corr.mean(axis=1), sc[(sc.split == "eval") & (sc.layer == 1)]["accuracy"])
    assert res.meta["intervals"]["mean"]["level"] == 0.9 and res.meta["nulls"]["accuracy"]["n_permutations"] == 9


def test_probe_word_level_rows_resample_sentences(one_thread):
    res = probe_layers(_layers(0, word=True), _layers(1, word=True), kinds=("linear",), l2_grid=(1e-4,),
                       n_seeds=2, n_label_permutations=0, n_resamples=200, layers=[1], progress=False, **FAST)
    assert "sentence" in res.meta["intervals"]["accuracy"]["unit"]
    assert res.meta["intervals"]["accuracy"]["method"].startswith("cluster bootstrap")
    assert np.isnan(res.table("best")["accuracy_p"]).all()


def test_run_probe_intervals_off_and_saved(tmp_path, one_thread):
    run = RunDir(tmp_path).ensure()
    kw = dict(kinds=("linear",), hidden_sizes=(8,), l2_grid=(1e-4, 1e-1), n_seeds=2, max_epochs=150,
              learning_rate=1e-2, progress=False)
    on = run_probe([_layers(0), _layers(2)], [_layers(1), _layers(3)], names=["pre", "fine/tuned"], run=run,
                   n_label_permutations=5, n_resamples=100, **kw)
    off = run_probe([_layers(0), _layers(2)], [_layers(1), _layers(3)], names=["pre", "fine/tuned"],
                    intervals=False, n_label_permutations=0, figures=False, **kw)
    for name, old_cols in (("scores", ["set", "layer", "kind", "hidden", "l2", "seed", "epochs", "split", "accuracy"]),
                           ("best", ["set", "layer", "kind", "hidden", "l2", "mean", "std", "n_seeds", "val_mean",
                                     "n_train", "n_eval"])):
        pd.testing.assert_frame_equal(on.table(name)[old_cols], off.table(name)[old_cols])   # point estimates
    assert off.table("scores")["accuracy_low"].isna().all() and off.table("best")["mean_low"].isna().all()
    assert off.table("best")["accuracy_p"].isna().all() and off.table("label_null").empty
    back = load_result(run.result_dir("probe"))
    assert isinstance(back, ProbeResult)
    assert back.eval_correct("fine/tuned", 1, "linear").shape == (2, 160)        # '/' stored as '-'
    assert "eval_groups__fine-tuned" in back.arrays
    assert {"mean_low", "accuracy_p"} <= set(back.summary().columns)
    assert (run.figures / "probe_accuracy.png").is_file()
