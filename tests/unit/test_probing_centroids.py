"""Known answers for label centroids, their movement and its PCA (Zhou & Srikumar 2022, Sec. 5)."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.analysis.centroids import centroid_movement, label_centroids, movement_pca, shared_pca_2d
from ftgeo.errors import ValidationError


def _data(seed=0, n=90, d=7):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return rng.normal(size=(n, d)), y


def test_centroids_match_reference():
    X, y = _data()
    classes, C = label_centroids(X, y)
    assert classes.tolist() == [0, 1, 2]
    for k in range(3):
        np.testing.assert_allclose(C[k], X[y == k].mean(axis=0), rtol=0, atol=1e-15)


def test_planted_translation_is_recovered_exactly():
    X, y = _data()
    shift = np.array([[1.0, 0, 0, 0, 0, 0, 2.0], [0, -3.0, 0, 0, 0, 0, 0], [0.5, 0.5, 0.5, 0, 0, 0, 0]])
    Xa = X + shift[y]
    _, M = centroid_movement(X, y, Xa, y)
    np.testing.assert_allclose(M, shift, atol=1e-12)


def test_movement_along_one_direction_explains_everything():
    X, y = _data(d=12)
    u = np.random.default_rng(5).normal(size=12)
    amounts = np.array([1.0, -2.0, 4.0])
    _, M = centroid_movement(X, y, X + amounts[y][:, None] * u, y)
    ratio, s, V = movement_pca(M)
    assert ratio[0] == pytest.approx(1.0, abs=1e-12)
    assert abs(abs(V[0] @ u) / np.linalg.norm(u) - 1) < 1e-10
    ratio_c, _, _ = movement_pca(M, center=True)      # centring keeps a 1-D set of movements 1-D
    assert ratio_c[0] == pytest.approx(1.0, abs=1e-12)


def test_common_translation_uncentred_vs_centred():
    X, y = _data()
    t = np.arange(7, dtype=float)
    _, M = centroid_movement(X, y, X + t, y)
    assert movement_pca(M)[0][0] == pytest.approx(1.0)
    assert np.isnan(movement_pca(M, center=True)[0]).all()  # nothing varies around the mean movement


def test_two_planted_directions_split_the_variance():
    M = np.array([[3.0, 0, 0], [0, 4.0, 0]])
    ratio, _, _ = movement_pca(M)
    np.testing.assert_allclose(ratio, [16 / 25, 9 / 25], atol=1e-12)


def test_shared_pca_preserves_planar_geometry():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    plane = [rng.normal(size=(4, 2)) * [5, 1] for _ in range(3)]
    lifted = [p @ Q[:2] for p in plane]                    # points in a 2-D plane of R^6
    proj, ratio, _ = shared_pca_2d(lifted)
    assert ratio.sum() == pytest.approx(1.0)
    A, B = np.vstack(plane), np.vstack(proj)
    DA = np.linalg.norm(A[:, None] - A[None], axis=-1)
    DB = np.linalg.norm(B[:, None] - B[None], axis=-1)
    np.testing.assert_allclose(DA, DB, atol=1e-10)


def test_missing_label_is_an_error():
    X, y = _data()
    with pytest.raises(ValidationError, match="label 5 has no example"):
        label_centroids(X, y, classes=[0, 5])
    with pytest.raises(ValidationError, match="share no label"):
        centroid_movement(X, y, X, y + 10)
