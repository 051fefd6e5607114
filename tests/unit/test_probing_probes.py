"""Known-answer tests of the classifier probes (Zhou & Srikumar 2022 probing set-up)."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.analyses.probe import probe_layers
from ftgeo.analysis.probes import (
    ProbeClassifier, ProbeGridSearch, stratified_split, stratified_subsample,
)
from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations

FAST = dict(max_epochs=150, patience=10, lr=1e-2)


def _separable(n, d=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] > 0).astype(int)
    X[:, 0] += np.where(y == 1, 1.5, -1.5)          # margin 3 along e_0
    return X, y


def _xor(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    X += 0.15 * np.sign(X)                           # keep points away from the axes
    return X, (np.sign(X[:, 0]) * np.sign(X[:, 1]) > 0).astype(int)


def test_linear_probe_separable_is_perfect():
    X, y = _separable(300)
    Xe, ye = _separable(300, seed=1)
    clf = ProbeClassifier(kind="linear", l2=1e-6, random_state=0, **FAST).fit(X, y)
    assert clf.score(Xe, ye) >= 0.99


def test_xor_linear_fails_mlp_succeeds():
    X, y = _xor(400)
    Xe, ye = _xor(400, seed=1)
    lin = ProbeClassifier(kind="linear", l2=1e-6, random_state=0, **FAST).fit(X, y)
    mlp = ProbeClassifier(kind="mlp", hidden=64, l2=1e-6, random_state=0, max_epochs=400, patience=30,
                          lr=1e-2).fit(X, y)
    assert abs(lin.score(Xe, ye) - 0.5) < 0.12       # no linear separator beats chance on XOR
    assert mlp.score(Xe, ye) >= 0.95


def test_grid_search_prefers_larger_l2_on_tiny_noisy_set():
    # one informative feature, 60 pure-noise features, 24 training points: a small L2 lets the
    # probe fit the noise (worse validation loss); the larger L2 keeps the weight on e_0.
    rng = np.random.default_rng(3)

    def make(n):
        y = np.arange(n) % 2
        X = rng.normal(size=(n, 61))
        X[:, 0] = np.where(y == 1, 1.0, -1.0) + 0.3 * rng.normal(size=n)
        return X, y

    X, y = make(24)
    Xv, yv = make(200)
    gs = ProbeGridSearch(kind="linear", l2_grid=[1e-7, 1e-1], n_seeds=2, random_state=0, **FAST)
    gs.fit(X, y, X_val=Xv, y_val=yv)
    cv = gs.cv_results_.set_index("l2")
    assert gs.best_params_["l2"] == pytest.approx(1e-1)
    assert cv.loc[1e-1, "val_loss"] < cv.loc[1e-7, "val_loss"]
    assert cv.loc[1e-1, "rank"] == 1 and cv.loc[1e-7, "rank"] == 2


def test_five_seeds_mean_std_and_determinism():
    X, y = _xor(200)
    Xe, ye = _xor(200, seed=1)
    kw = dict(kind="mlp", hidden_sizes=(16,), l2_grid=(1e-5,), n_seeds=5, random_state=4, max_epochs=60, lr=1e-2)
    a = ProbeGridSearch(**kw).fit(X, y, X_eval=Xe, y_eval=ye)
    b = ProbeGridSearch(**kw).fit(X, y, X_eval=Xe, y_eval=ye)
    assert a.seeds_ == [4, 5, 6, 7, 8]
    assert a.seed_scores_.shape == (5,)
    assert a.mean_score_ == pytest.approx(np.mean(a.seed_scores_))
    assert a.std_score_ == pytest.approx(np.std(a.seed_scores_, ddof=1))
    np.testing.assert_array_equal(a.seed_scores_, b.seed_scores_)          # same seed -> same result
    assert len(set(np.round(a.seed_val_scores_, 6))) >= 1
    assert a.score(Xe, ye) == pytest.approx(a.mean_score_)


def test_probe_classifier_is_deterministic_and_seed_sensitive():
    X, y = _xor(200)
    p1 = ProbeClassifier(kind="mlp", hidden=8, random_state=1, max_epochs=30).fit(X, y).predict_proba(X)
    p2 = ProbeClassifier(kind="mlp", hidden=8, random_state=1, max_epochs=30).fit(X, y).predict_proba(X)
    p3 = ProbeClassifier(kind="mlp", hidden=8, random_state=2, max_epochs=30).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)


def test_batched_members_are_independent():
    # an L2 setting's result must not depend on which other settings share its batch
    X, y = _separable(120, d=5)
    kw = dict(kind="linear", n_seeds=1, random_state=0, max_epochs=40)
    a = ProbeGridSearch(l2_grid=[1e-3], **kw).fit(X, y).cv_results_
    b = ProbeGridSearch(l2_grid=[1e-6, 1e-3, 1.0], **kw).fit(X, y).cv_results_
    rb = b[b.l2 == 1e-3].iloc[0]
    assert rb["val_loss"] == pytest.approx(a.iloc[0]["val_loss"], rel=1e-5)
    assert rb["epochs"] == a.iloc[0]["epochs"]


def test_minibatch_training_learns():
    X, y = _separable(300)
    clf = ProbeClassifier(kind="linear", batch_size=32, random_state=0, max_epochs=30).fit(X, y)
    assert clf.score(*_separable(300, seed=2)) >= 0.98


def test_string_labels_and_unseen_eval_label():
    X, y = _separable(100)
    names = np.array(["neg", "pos"])[y]
    gs = ProbeGridSearch(kind="linear", l2_grid=[1e-4], n_seeds=1, **FAST).fit(X, names)
    Xe, ye = _separable(100, seed=1)
    lab = np.array(["neg", "pos"])[ye].astype(object)
    lab[:10] = "other"                                # unseen in training: always wrong
    assert gs.seed_scores(Xe, lab)[0] <= 0.9 + 1e-12
    assert set(gs.predict(Xe)) <= {"neg", "pos"}


def test_stratified_split_counts_and_seed():
    y = np.array([0] * 10 + [1] * 5 + [2] * 1)
    tr, va = stratified_split(y, 0.2, random_state=0)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(16))
    assert np.bincount(y[va], minlength=3).tolist() == [2, 1, 0]
    tr2, va2 = stratified_split(y, 0.2, random_state=0)
    np.testing.assert_array_equal(va, va2)


def test_stratified_subsample_keeps_every_label():
    y = np.array([0] * 900 + [1] * 90 + [2] * 10)
    idx = stratified_subsample(y, 100, random_state=0)
    assert np.bincount(y[idx]).tolist() == [90, 9, 1]
    assert stratified_subsample(y, None).size == 1000
    np.testing.assert_array_equal(idx, stratified_subsample(y, 100, random_state=0))


def test_validation_errors():
    X, y = _separable(20)
    with pytest.raises(ValidationError, match=r"kind='cnn' is not one of \['linear', 'mlp'\]"):
        ProbeClassifier(kind="cnn").fit(X, y)
    with pytest.raises(ValidationError, match="needs at least 2"):
        ProbeClassifier().fit(X, np.zeros(20))
    with pytest.raises(ValidationError, match="not fitted"):
        ProbeClassifier().predict(X)
    for est in (ProbeClassifier(), ProbeGridSearch()):
        with pytest.raises(ValidationError, match="X_val has 1 features"):
            est.fit(X, y, X[:, :1], y)
    with pytest.raises(ValidationError, match="l2_grid"):
        ProbeGridSearch(l2_grid=[-1.0]).fit(X, y)


def test_probe_layers_signal_only_in_one_layer():
    rng = np.random.default_rng(0)
    n = 160
    y = np.arange(n) % 2
    noise = [rng.normal(size=(n, 6)) for _ in range(2)]
    sig = rng.normal(size=(n, 6))
    sig[:, 2] += np.where(y == 1, 3.0, -3.0)
    ye = y.copy()
    noise_e = [rng.normal(size=(n, 6)) for _ in range(2)]
    sig_e = rng.normal(size=(n, 6))
    sig_e[:, 2] += np.where(ye == 1, 3.0, -3.0)
    tr = InMemoryRepresentations([noise[0], sig], y, ["a", "b"])
    ev = InMemoryRepresentations([noise_e[0], sig_e], ye, ["a", "b"])
    res = probe_layers(tr, ev, kinds=("linear",), l2_grid=(1e-4, 1e-1), n_seeds=3, progress=False, **FAST)
    best = res.table("best").set_index("layer")
    assert best.loc[1, "mean"] >= 0.97
    assert abs(best.loc[0, "mean"] - 0.5) < 0.15
    sc = res.table("scores")
    assert len(sc) == 2 * 3 * 2 and set(sc.split) == {"validation", "eval"}
    assert len(res.table("grid")) == 2 * 2


def test_probe_layers_max_train_points_subsamples_stratified_and_seeded():
    rng = np.random.default_rng(1)
    n = 400
    y = np.r_[np.zeros(300, int), np.ones(100, int)]
    X = rng.normal(size=(n, 4))
    X[:, 0] += np.where(y == 1, 3.0, -3.0)
    tr = InMemoryRepresentations([X, X * 2.0], y, ["a", "b"])
    ev = InMemoryRepresentations([X[:80], X[:80] * 2.0], y[:80], ["a", "b"])
    kw = dict(kinds=("linear",), l2_grid=(1e-4,), n_seeds=1, progress=False, **FAST)
    res = probe_layers(tr, ev, max_train_points=100, **kw)
    assert res.table("best")["n_train"].tolist() == [100, 100]          # 75 + 25: proportional
    full = probe_layers(tr, ev, **kw)
    assert full.table("best")["n_train"].tolist() == [n, n]
    again = probe_layers(tr, ev, max_train_points=100, **kw)
    assert res.table("scores")["accuracy"].tolist() == again.table("scores")["accuracy"].tolist()
