"""PCA compression curves and explained-variance ratios: planted low-dimensional class structure."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.analysis.compression import (
    CompressionCurve, default_ks, explained_variance_ratio, pca_fit, pca_project, random_dimension_draws,
    variance_comparison,
)
from ftgeo.errors import ValidationError


def _planted(n, K=4, d=100, seed=0, signal=3.0):
    """Class means in a 3-D subspace, rotated into d dims, plus isotropic noise of std 0.3."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(np.random.default_rng(99).normal(size=(d, d)))
    centres = np.random.default_rng(98).normal(size=(K, 3)) * signal
    y = rng.integers(0, K, n)
    Z = np.zeros((n, d))
    Z[:, :3] = centres[y] + rng.normal(size=(n, 3))
    Z[:, 3:] = rng.normal(size=(n, d - 3)) * 0.3
    return Z @ Q.T, y


def test_in_domain_pca_saturates_at_planted_dimension():
    Xtr, ytr = _planted(1500, K=6, seed=1, signal=2.0)
    Xev, yev = _planted(600, K=6, seed=2, signal=2.0)
    cc = CompressionCurve(ks=[1, 2, 3, 6, 100], source="in_domain").fit(Xtr, ytr, Xev, yev)
    acc = cc.curve_.set_index("k").accuracy
    assert acc[3] >= cc.full_accuracy_ - 0.01           # three components carry all the class signal
    assert acc[3] >= acc[100] - 0.01                    # (all 100 dims add only noise)
    assert acc[6] <= acc[3] + 0.01                      # ... adding more does not help
    assert acc[2] < acc[3] - 0.03 and acc[1] < acc[2]   # fewer than three do lose it
    # PCA recovers the planted 3-D subspace: the top 3 components span it
    Q, _ = np.linalg.qr(np.random.default_rng(99).normal(size=(100, 100)))
    P = cc.pca_["in_domain"]["components"][:3]
    s = np.linalg.svd(P @ Q[:, :3], compute_uv=False)
    assert np.all(s > 0.99)


def test_general_source_equal_to_train_gives_in_domain_curve_and_random_draws_are_seeded():
    Xtr, ytr = _planted(600, seed=3)
    Xev, yev = _planted(300, seed=4)
    cc = CompressionCurve(ks=[1, 3, 8], n_random=3, random_state=7).fit(Xtr, ytr, Xev, yev, X_general=Xtr)
    c = cc.curve_
    np.testing.assert_allclose(c[c.source == "general"].accuracy.to_numpy(), c[c.source == "in_domain"].accuracy.to_numpy())
    r = c[c.source == "random"]
    assert r.n_draws.tolist() == [3, 3, 3] and (r.accuracy_std >= 0).all()
    cc2 = CompressionCurve(ks=[1, 3, 8], n_random=3, random_state=7, source="random").fit(Xtr, ytr, Xev, yev)
    assert all(np.array_equal(cc.random_dims_[k], cc2.random_dims_[k]) for k in (1, 3, 8))
    np.testing.assert_allclose(cc2.curve_.accuracy.to_numpy(), r.accuracy.to_numpy())
    a = random_dimension_draws(50, 5, 4, random_state=1)
    assert a.shape == (4, 5) and all(len(set(row)) == 5 for row in a)
    assert np.array_equal(a, random_dimension_draws(50, 5, 4, random_state=1))
    assert not np.array_equal(a, random_dimension_draws(50, 5, 4, random_state=2))


def test_pca_projection_once_then_slicing_equals_refitting_smaller_pca():
    X, _ = _planted(300, seed=5, d=20)
    full = pca_fit(X)
    small = pca_fit(X, n_components=4)
    np.testing.assert_allclose(pca_project(X, full)[:, :4], pca_project(X, small), atol=1e-10)
    r = explained_variance_ratio(X)
    assert abs(r.sum() - 1.0) < 1e-12 and np.all(np.diff(r) <= 1e-15)


def test_variance_ratios_identical_sets_are_exactly_one():
    X, y = _planted(400, seed=6, d=30)
    v = variance_comparison(X, X.copy(), n_classes=4)
    assert np.all(v["ratio"] == 1.0)
    assert v["first_below_one"] is None


@pytest.mark.parametrize("K", [2, 4, 6])
def test_fine_tuned_variance_concentrates_in_n_classes_minus_one_components(K):
    rng = np.random.default_rng(K)
    n, d = 2000, 40
    y = rng.integers(0, K, n)
    pre = rng.normal(size=(n, d)) * np.linspace(1.5, 1.0, d)        # no class structure
    centres = rng.normal(size=(K, d)) * 4.0                          # K means span K-1 dims after centring
    ft = centres[y] + rng.normal(size=(n, d)) * 0.5
    v = variance_comparison(pre, ft, n_classes=K)
    assert v["first_below_one"] == K and v["n_above_before_drop"] == K - 1
    assert np.all(v["ratio"][:K - 1] > 1) and v["ratio"][K - 1] < 1


def test_errors():
    X, y = _planted(200, seed=7, d=10)
    with pytest.raises(ValidationError, match="pretrained representations have 10 dimensions and fine-tuned ones 9"):
        variance_comparison(X, X[:, :9])
    with pytest.raises(ValidationError, match="source 'general' needs X_general"):
        CompressionCurve(source="general").fit(X, y, X, y)
    with pytest.raises(ValidationError, match="X_general has 9 dimensions and X_train 10"):
        CompressionCurve(source="general").fit(X, y, X, y, X_general=X[:, :9])
    with pytest.raises(ValidationError, match=r"ks=\[0, 2\] must be integers between 1 and the dimension \(10\)"):
        CompressionCurve(ks=[0, 2]).fit(X, y, X, y)
    with pytest.raises(ValidationError, match="source 'pca' is not one of"):
        CompressionCurve(source="pca").fit(X, y, X, y)
    assert default_ks(10) == [1, 2, 4, 8, 10] and default_ks(8) == [1, 2, 4, 8]
