"""Known answers for IsoScore, average cosine similarity and 2-D projections."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from ftgeo.analysis.isotropy import average_cosine, isoscore, isoscore_from_variances, pca_variances
from ftgeo.analysis.projection import project, subsample_indices
from ftgeo.errors import ValidationError


def test_isoscore_bounds_from_the_paper():
    rng = np.random.default_rng(0)
    assert isoscore(rng.standard_normal((200_000, 5))) > 0.995            # isotropic Gaussian -> 1
    t = rng.standard_normal((500, 1))
    assert isoscore(t @ rng.standard_normal((1, 10))) == pytest.approx(0.0, abs=1e-9)   # 1-D data -> 0
    for k, d in [(1, 8), (3, 8), (8, 8), (5, 20)]:
        var = np.r_[np.full(k, 2.5), np.zeros(d - k)]
        assert isoscore_from_variances(var) == pytest.approx((k - 1) / (d - 1), abs=1e-12)
    # rotation and scale invariant
    X = rng.standard_normal((400, 6)) * np.array([5, 3, 1, 1, 0.5, 0.1])
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    assert isoscore(3 * X @ Q + 7) == pytest.approx(isoscore(X), abs=1e-10)


def test_pca_variances_fewer_samples_than_dims():
    X = np.random.default_rng(1).standard_normal((5, 12))
    v = pca_variances(X)
    assert v.shape == (12,) and np.all(v[4:] < 1e-12)
    np.testing.assert_allclose(v.sum(), X.var(axis=0, ddof=1).sum())


def test_average_cosine_exact_sampled_and_brute_force():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 4)) + np.array([3.0, 0, 0, 0])
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    brute = np.mean([U[a] @ U[b] for a, b in itertools.permutations(range(60), 2)])
    assert average_cosine(X, None) == pytest.approx(brute, abs=1e-12)
    assert average_cosine(X, 20000, random_state=0) == pytest.approx(brute, abs=0.02)
    assert average_cosine(X, 500, random_state=5) == average_cosine(X, 500, random_state=5)
    with pytest.raises(ValidationError, match="all-zero row"):
        average_cosine(np.zeros((3, 2)))


def test_projection_pca_matches_svd_and_is_deterministic():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 5)) * np.array([4, 2, 1, 1, 1])
    P = project(X, "pca")
    assert P.shape == (80, 2)
    np.testing.assert_allclose(P.var(axis=0, ddof=1), pca_variances(X)[:2], rtol=1e-10)
    np.testing.assert_array_equal(project(X.copy(), "pca"), P)
    np.testing.assert_allclose(project(-X, "pca"), -P, atol=1e-10)   # loadings' sign fixed, not the scores'


def test_tsne_deterministic_with_seed_and_separates_clusters():
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1], 60)
    X = rng.standard_normal((120, 10)) + 8.0 * y[:, None]
    a = project(X, "tsne", random_state=1)
    b = project(X, "tsne", random_state=1)
    assert a.shape == (120, 2)
    np.testing.assert_array_equal(a, b)
    c0, c1 = a[y == 0].mean(0), a[y == 1].mean(0)
    spread = max(a[y == 0].std(0).max(), a[y == 1].std(0).max())
    assert np.linalg.norm(c0 - c1) > 3 * spread


def test_subsample_stratified_and_umap_message():
    labels = np.r_[np.zeros(900, int), np.ones(100, int)]
    idx = subsample_indices(1000, 100, random_state=0, labels=labels)
    assert len(idx) == 100 and (labels[idx] == 1).sum() == 10 and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, subsample_indices(1000, 100, random_state=0, labels=labels))
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ValidationError, match="pip install umap-learn"):
            project(np.random.default_rng(0).standard_normal((20, 3)), "umap")
