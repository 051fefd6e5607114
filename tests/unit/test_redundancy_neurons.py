"""Salient neurons: stratified seeded folds, agreement with a plain scikit-learn loop, planted dims."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from ftgeo.analysis.neurons import (
    SalientNeurons, fraction_above, greedy_selection, majority_accuracy, single_neuron_accuracy, stratified_folds,
)
from ftgeo.errors import ValidationError

pytest.importorskip("sklearn")


def _planted(n=900, d=12, K=3, seed=0):
    """Class signal on dims 4 (strong), 9 (medium), 1 (weak); the rest correlated noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    X = rng.normal(size=(n, d)) + rng.normal(size=(n, 1)) * 0.5
    means = (np.array([[0, 1.0, -1.0], [1.0, -1.0, 0], [-1.0, 0, 1.0]]) if K == 3
             else np.array([[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]))  # rows = classes
    X[:, 4] += 2.0 * means[y, 0]
    X[:, 9] += 1.2 * means[y, 1]
    X[:, 1] += 0.7 * means[y, 2]
    X *= np.exp(rng.normal(size=d))
    return X, y


def _sk_cv(X, y, cols, splits, C=1.0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    accs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tr, te in splits:
            m = make_pipeline(StandardScaler(), LogisticRegression(C=C, tol=1e-10, max_iter=5000))
            m.fit(X[np.ix_(tr, cols)], y[tr])
            accs.append(m.score(X[np.ix_(te, cols)], y[te]))
    return float(np.mean(accs))


def test_folds_are_stratified_partitioning_and_seeded():
    y = np.array([0] * 50 + [1] * 23 + [2] * 12)
    folds = stratified_folds(y, 5, random_state=3)
    tests = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(tests), np.arange(y.size))  # a partition
    for tr, te in folds:
        assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == y.size
        counts = np.bincount(y[te], minlength=3)
        for c, n_c in enumerate([50, 23, 12]):
            assert counts[c] in (n_c // 5, -(-n_c // 5))  # floor or ceil of n_c / 5
    assert max(te.size for _, te in folds) - min(te.size for _, te in folds) <= 1
    again = stratified_folds(y, 5, random_state=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = stratified_folds(y, 5, random_state=4)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_too_few_examples_per_class_for_cv():
    y = np.array([0] * 10 + [1] * 4)
    with pytest.raises(ValidationError, match=r"label 1 has 4 example\(s\); 5-fold stratified CV needs at least 5 per label"):
        stratified_folds(y, 5)
    with pytest.raises(ValidationError, match="5-fold stratified CV needs at least 5 per label"):
        SalientNeurons(cv=5).fit(np.random.default_rng(0).normal(size=(14, 3)), y)


def test_single_neuron_cv_matches_sklearn_loop():
    X, y = _planted(n=400, d=12, K=3, seed=2)
    ours = single_neuron_accuracy(X, y, cv=5, random_state=1)
    splits = stratified_folds(y, 5, 1)
    ref = np.array([_sk_cv(X, y, [j], splits) for j in range(12)])
    assert np.max(np.abs(ours - ref)) <= 0.005
    assert int(np.argmax(ours)) == int(np.argmax(ref)) == 4


@pytest.mark.parametrize("K", [2, 3])
def test_greedy_selection_finds_planted_dims_in_order_and_matches_sklearn(K):
    X, y = _planted(K=K, seed=5)
    out = greedy_selection(X, y, 3 if K == 3 else 2, cv=5, random_state=0)
    expected = [4, 9, 1] if K == 3 else [4, 9]
    assert out["selected"] == expected
    splits = stratified_folds(y, 5, 0)
    for s, j in enumerate(out["selected"]):
        ref = _sk_cv(X, y, out["selected"][:s + 1], splits)
        assert abs(out["curve"][s] - ref) <= 0.005
    assert np.all(np.diff(out["curve"]) > 0)


def test_salient_neurons_estimator_and_eval_scores():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = _planted(n=1200, seed=8)
    Xtr, ytr, Xev, yev = X[:900], y[:900], X[900:], y[900:]
    sn = SalientNeurons(cv=5, n_select=3, random_state=0).fit(Xtr, ytr)
    assert sn.best_ == 4 and sn.selected_ == [4, 9, 1]
    assert sn.single_accuracy_.shape == (12,) and sn.single_accuracy_folds_.shape == (12, 5)
    np.testing.assert_allclose(sn.single_accuracy_, sn.single_accuracy_folds_.mean(axis=1))
    for n in (1, 3):
        m = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-10, max_iter=5000)).fit(Xtr[:, sn.selected_[:n]], ytr)
        assert abs(sn.score(Xev, yev, n=n) - m.score(Xev[:, sn.selected_[:n]], yev)) <= 0.005
    single = sn.single_eval_accuracy(Xev, yev)
    m = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-10, max_iter=5000)).fit(Xtr[:, [9]], ytr)
    assert abs(single[9] - m.score(Xev[:, [9]], yev)) <= 0.005
    with pytest.raises(ValidationError, match="X_eval has 11 dimensions; the neurons were fitted on 12"):
        sn.score(Xev[:, :11], yev)


def test_baselines_and_fraction():
    assert majority_accuracy([0, 0, 1], [0, 1, 1, 1]) == 0.25
    assert fraction_above([0.3, 0.5, 0.7, 0.9], 0.5) == 0.5
