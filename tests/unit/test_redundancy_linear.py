"""The batched softmax / logistic solvers agree with scikit-learn and with each other."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from ftgeo.analysis.linear import SoftmaxClassifier, fit_candidates, fit_logreg_batch, standardize_stats
from ftgeo.errors import ValidationError

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def _data(K, n=500, d=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 4.0, d) + rng.normal(size=d) * 3
    X[:, :2] += np.eye(K)[y][:, :2] * 1.2
    return X, y


def _sk(X, y, C):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_pipeline(StandardScaler(), LogisticRegression(C=C, tol=1e-12, max_iter=10000)).fit(X, y)


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_softmax_classifier_matches_sklearn(K, solver):
    X, y = _data(K, seed=K)
    sk = _sk(X, y, 0.3)
    m = SoftmaxClassifier(C=0.3, solver=solver).fit(X, y)
    np.testing.assert_allclose(m.coef_, sk[-1].coef_, atol=1e-5)
    np.testing.assert_allclose(m.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    assert abs(m.score(X, y) - sk.score(X, y)) <= 0.005


@pytest.mark.parametrize("K", [2, 4])
def test_batched_newton_equals_individual_fits_and_weights_select_rows(K):
    X, y = _data(K, n=300, d=3, seed=7)
    mu, sd = standardize_stats(X)
    Z = np.column_stack([np.ones(len(y)), (X - mu) / sd])
    B = np.stack([Z, Z[:, [0, 2, 1, 3]], Z * np.array([1, 2, 1, 0.5])])
    W = fit_logreg_batch(B, y, K, C=2.0)
    for b in range(3):
        Wb = fit_logreg_batch(B[b:b + 1], y, K, C=2.0)[0]
        np.testing.assert_allclose(W[b], Wb, atol=1e-9)
    # 0/1 weights == fitting on the kept rows only
    keep = np.arange(len(y)) % 3 != 0
    Ww = fit_logreg_batch(Z[None], y, K, C=2.0, weights=keep.astype(float)[None])[0]
    Ws = fit_logreg_batch(Z[keep][None], y[keep], K, C=2.0)[0]
    np.testing.assert_allclose(Ww, Ws, atol=1e-8)


@pytest.mark.parametrize("K", [2, 3])
def test_fit_candidates_equals_batched_newton_and_sklearn(K):
    X, y = _data(K, n=400, d=6, seed=11)
    mu, sd = standardize_stats(X)
    Z = (X - mu) / sd
    S = np.column_stack([np.ones(len(y)), Z[:, [0, 1]]])
    W = fit_candidates(S, Z[:, 2:], y, K, C=1.0)
    for j in range(4):
        A = np.column_stack([S, Z[:, 2 + j]])[None]
        np.testing.assert_allclose(W[j], fit_logreg_batch(A, y, K, C=1.0)[0], atol=1e-9)
        sk = _sk(X[:, [0, 1, 2 + j]], y, 1.0)
        coef = W[j, 1:].T
        np.testing.assert_allclose(coef, sk[-1].coef_, atol=1e-5)


def test_softmax_classifier_errors():
    X, y = _data(3)
    with pytest.raises(ValidationError, match="needs at least 2"):
        SoftmaxClassifier().fit(X, np.zeros(len(y)))
    with pytest.raises(ValidationError, match="C=0 must be > 0"):
        SoftmaxClassifier(C=0).fit(X, y)
    m = SoftmaxClassifier().fit(X, y)
    with pytest.raises(ValidationError, match="X has 2 features; the classifier was fitted on 4"):
        m.predict(X[:, :2])
