"""Known answers for the dynamics measures and cross-task change (Zhou & Srikumar 2022, Sec. 5-6)."""
from __future__ import annotations

import numpy as np
import pytest

from ftgeo.analysis.crosstask import count_changes, cross_task_change, min_distance_change
from ftgeo.analysis.dynamics import layer_dynamics, min_distance_trajectories, safe_spatial_similarity, fit_directprobe
from ftgeo.errors import ValidationError

# a small cross around each centre: the hull of label k is a diamond of radius 1 (in the first 2 coordinates)
_OFF = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1], [0, 0]])


def _clusters(centres):
    centres = np.asarray(centres, dtype=float)
    X = np.vstack([c + _OFF for c in centres])
    y = np.repeat(np.arange(len(centres)), len(_OFF))
    return X, y


def test_min_distance_grows_monotonically_as_clusters_move_apart():
    base = np.array([[0.0, 0], [4, 0], [0, 5], [6, 6]])
    scales = [1.0, 1.3, 1.7, 2.4]
    Xs = [_clusters(base * s)[0] for s in scales]
    y = _clusters(base)[1]
    classes, md = min_distance_trajectories(Xs, y)
    assert classes.tolist() == [0, 1, 2, 3]
    assert (np.diff(md, axis=0) > 0).all()
    # exact value for label 0 at scale 1: diamonds centred 4 apart on the x axis -> gap 4 - 2 = 2
    assert md[0, 0] == pytest.approx(2.0, rel=1e-7)


def test_spatial_similarity_invariant_to_rotation_and_scale():
    X, y = _clusters([[0.0, 0], [4, 0], [0, 5], [6, 6], [-3, 7]])
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
    a, b = fit_directprobe(X, y), fit_directprobe(2.5 * X @ Q + 3.0, y)
    assert safe_spatial_similarity(a, a) == pytest.approx(1.0)
    assert safe_spatial_similarity(a, b) == pytest.approx(1.0, abs=1e-9)


def test_spatial_similarity_nan_with_two_labels():
    X, y = _clusters([[0.0, 0], [4, 0]])
    dp = fit_directprobe(X, y)
    assert np.isnan(safe_spatial_similarity(dp, dp))


def test_layer_dynamics_planted_run():
    base = np.array([[0.0, 0], [4, 0], [0, 5]])
    y = _clusters(base)[1]
    Xs = [_clusters(base)[0] * s for s in (1.0, 2.0, 3.0)]    # the whole space scaled up
    d = layer_dynamics(Xs, y)
    assert d["similarity"][0] == pytest.approx(1.0)
    np.testing.assert_allclose(d["similarity"], 1.0, atol=1e-9)    # pure scaling keeps the shape of the space
    assert d["n_clusters"].tolist() == [3, 3, 3]
    assert (np.diff(d["min_distance"], axis=0) > 0).all()
    np.testing.assert_allclose(d["movement"], base * 2.0, atol=1e-12)  # last - first centroids
    # the movements are base * 2: a 2-D set of directions in 2-D
    assert d["movement_explained"].sum() == pytest.approx(1.0)
    # centroid paths: straight lines from the origin-scaled centres, in one shared PCA
    P = d["paths"]                                                    # (T, L, 2)
    assert P.shape == (3, 3, 2)
    dist_pca = np.linalg.norm(P[2, 0] - P[2, 1])
    assert dist_pca == pytest.approx(np.linalg.norm(base[0] - base[1]) * 3.0, rel=1e-10)


def test_layer_dynamics_rejects_misaligned_sets():
    X, y = _clusters([[0.0, 0], [4, 0], [0, 5]])
    with pytest.raises(ValidationError, match="same examples in the same order"):
        layer_dynamics([X, X[:-1]], y)
    with pytest.raises(ValidationError, match="at least two"):
        layer_dynamics([X], y)


def test_cross_task_planted_growth_counted_exactly():
    # labels on a line at 0, 10, 20, 30; after "fine-tuning on A", the outer labels move out
    pre, y = _clusters([[0.0, 0], [10, 0], [20, 0], [30, 0]])
    ft, _ = _clusters([[-10.0, 0], [10, 0], [20, 0], [40, 0]])
    df, s = cross_task_change(pre, y, ft, y)
    assert df["direction"].tolist() == ["grew", "same", "same", "grew"]
    np.testing.assert_allclose(df["before"], [8, 8, 8, 8], rtol=1e-7)
    np.testing.assert_allclose(df["after"], [18, 8, 8, 18], rtol=1e-7)
    assert (s["n_grew"], s["n_shrank"], s["n_same"]) == (2, 0, 2)
    assert s["mean_change"] == pytest.approx(5.0, rel=1e-7)
    _, s_back = cross_task_change(ft, y, pre, y)
    assert (s_back["n_grew"], s_back["n_shrank"], s_back["n_same"]) == (0, 2, 2)


def test_count_changes_tolerance_and_nan():
    out = count_changes([1.0, 2.0, 3.0, np.nan], [1.0 + 1e-12, 2.5, 2.0, 1.0])
    assert out == {"n_labels": 3, "n_grew": 1, "n_shrank": 1, "n_same": 1, "mean_change": pytest.approx(-0.5 / 3)}
    assert min_distance_change([1.0], [1.0])["direction"].tolist() == ["same"]
    with pytest.raises(ValidationError, match="same length"):
        min_distance_change([1.0, 2.0], [1.0])
