"""The similarity measures of issue 16 and their layer x layer engine: invariances, planted known answers,
agreement with slow literal references (``_similarity_refs``), degenerate inputs."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import ortho_group

from ftgeo.analysis.cca import PWCCAMeasure, SVCCAMeasure, canonical_correlations, pwcca, svcca
from ftgeo.analysis.intrinsic_dim import pca_dimension, twonn
from ftgeo.analysis.knn_alignment import CKNNAMeasure, MutualKNNMeasure, cknna, knn_indices, mutual_knn
from ftgeo.analysis.layerwise import Measure, clip_threshold, jackknife_grid, layer_grid, preprocess_layer
from ftgeo.analysis.rsa import RSAMeasure, rdm, rsa
from ftgeo.analysis.shape import ProcrustesMeasure, ShapeMeasure, procrustes_distance, shape_distance
from ftgeo.analysis.similarity import cka, standardize_features
from ftgeo.errors import ValidationError

from _similarity_refs import (netrep_linear_metric, platonic_cknna, platonic_mutual_knn, procrustes_literal,
                              pwcca_literal, rdm_literal, rsa_literal, svcca_literal, twonn_literal)


def _pair(n=80, d=6, e=5, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) @ np.diag(np.linspace(3, 0.5, d)) + 2.0
    Y = X[:, :e] @ rng.standard_normal((e, e)) + noise * rng.standard_normal((n, e)) - 1.0
    return X, Y


def _orth(d, seed=1):
    return ortho_group.rvs(d, random_state=seed)


ALL = [("procrustes", lambda X, Y: procrustes_distance(X, Y)), ("shape1", lambda X, Y: shape_distance(X, Y, 1.0)),
       ("shape.5", lambda X, Y: shape_distance(X, Y, 0.5)), ("shape0", lambda X, Y: shape_distance(X, Y, 0.0)),
       ("svcca", lambda X, Y: svcca(X, Y)), ("pwcca", lambda X, Y: pwcca(X, Y)),
       ("rsa-euclid", lambda X, Y: rsa(X, Y, metric="euclidean")),
       ("rsa-cos", lambda X, Y: rsa(X, Y, metric="cosine", method="pearson")),
       ("mknn", lambda X, Y: mutual_knn(X, Y, 5)), ("cknna", lambda X, Y: cknna(X, Y, 5))]


# ----------------------------------------------------------------------------- invariances
@pytest.mark.parametrize("name,f", ALL)
def test_orthogonal_and_isotropic_scaling_invariance(name, f):
    X, Y = _pair()
    Q = _orth(X.shape[1])
    v = f(X, Y)
    if name != "pwcca":                                            # PWCCA: a rotation changes its neurons' weights
        assert f(X @ Q, Y) == pytest.approx(v, abs=1e-9)
        assert f(X, Y @ _orth(Y.shape[1], 2)) == pytest.approx(v, abs=1e-9)
    if name == "shape.5":                                          # partial whitening mixes scales: not scale-free
        assert abs(f(3.7 * X, 0.2 * Y) - v) > 1e-4
    else:
        assert f(3.7 * X, 0.2 * Y) == pytest.approx(v, abs=1e-9)


@pytest.mark.parametrize("name,f", [a for a in ALL if a[0] not in ("rsa-cos", "mknn", "cknna")])
def test_translation_invariance(name, f):
    X, Y = _pair()
    assert f(X + 5.0, Y - 3.0) == pytest.approx(f(X, Y), abs=1e-9)


def test_cosine_and_knn_measures_are_not_translation_invariant():
    X, Y = _pair()
    shift = np.full(X.shape[1], 4.0)
    assert abs(rsa(X + shift, Y, metric="cosine") - rsa(X, Y, metric="cosine")) > 1e-3
    assert abs(cknna(X + shift, Y, 5) - cknna(X, Y, 5)) > 1e-3


def test_invertible_linear_maps_only_full_whitening_and_cca_ignore():
    X, Y = _pair()
    A = np.random.default_rng(5).standard_normal((X.shape[1], X.shape[1])) + 3 * np.eye(X.shape[1])
    assert shape_distance(X @ A, Y, 0.0) == pytest.approx(shape_distance(X, Y, 0.0), abs=1e-8)
    assert svcca(X @ A, Y, variance=None) == pytest.approx(svcca(X, Y, variance=None), abs=1e-9)
    assert abs(procrustes_distance(X @ A, Y) - procrustes_distance(X, Y)) > 1e-3
    assert abs(shape_distance(X @ A, Y, 1.0) - shape_distance(X, Y, 1.0)) > 1e-3


def test_symmetry_and_pwcca_asymmetry():
    X, Y = _pair()
    for f in (procrustes_distance, shape_distance, svcca, rsa, mutual_knn):
        assert f(X, Y) == pytest.approx(f(Y, X), abs=1e-12)
    assert abs(pwcca(X, Y) - pwcca(Y, X)) > 1e-3
    # CKNNA as platonic-rep writes it: 1^T A B 1 != 1^T B A 1 for non-symmetric kNN masks
    assert cknna(X, Y, 5) == pytest.approx(platonic_cknna(X, Y, 5), abs=1e-12)
    assert cknna(Y, X, 5) == pytest.approx(platonic_cknna(Y, X, 5), abs=1e-12)
    assert abs(cknna(X, Y, 5) - cknna(Y, X, 5)) > 1e-4


# ----------------------------------------------------------------------------- planted known answers
def _orthonormal(n, k, seed=0):
    Z = np.random.default_rng(seed).standard_normal((n, k))
    Z -= Z.mean(axis=0)
    return np.linalg.qr(Z)[0]


def test_planted_angle_is_the_shape_distance():
    B = _orthonormal(50, 2)
    u, v = B[:, :1], B[:, 1:]
    for t in (0.0, 0.3, 1.0, math.pi / 2):
        Y = math.cos(t) * u + math.sin(t) * v
        assert shape_distance(u, Y) == pytest.approx(t, abs=1e-7)
        assert procrustes_distance(u, Y) == pytest.approx(math.sqrt(2 - 2 * abs(math.cos(t))), abs=1e-7)


def test_planted_shared_subspace_gives_svcca_k_over_m_and_pwcca_weights():
    U = _orthonormal(200, 8)
    X, Y = U[:, :5], np.hstack([U[:, :3], U[:, 5:7]])      # 3 of 5 directions shared, the rest orthogonal
    assert canonical_correlations(X, Y) == pytest.approx([1, 1, 1, 0, 0], abs=1e-10)
    assert svcca(X, Y, variance=None) == pytest.approx(3 / 5, abs=1e-10)
    X2 = U[:, :2] * np.array([10.0, 1.0])                   # neurons: 10 u1 and 1 u2; Y shares u1 only
    Y2 = np.hstack([U[:, :1], U[:, 5:6]])
    assert pwcca(X2, Y2) == pytest.approx(10 / 11, abs=1e-10)


def test_d_greater_than_n_and_rank_deficiency_are_explicit():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 50)), rng.standard_normal((20, 50))
    rho = canonical_correlations(X, Y)
    assert rho.size == 19 and np.allclose(rho, 1.0)        # rank n - 1 each: CCA is 1 by construction
    m = SVCCAMeasure(variance=None)
    m.notes = []
    assert m(X, Y) == pytest.approx(1.0)
    assert m.notes and "degenerate CCA" in m.notes[0] and "19 canonical" in m.notes[0]
    Z = rng.standard_normal((60, 3))
    Zdup = np.hstack([Z, Z, Z @ rng.standard_normal((3, 4))])   # 10 columns, rank 3
    W = Z @ rng.standard_normal((3, 5)) + rng.standard_normal((60, 5))
    assert canonical_correlations(Zdup, W).size == 3
    assert svcca(Zdup, W, variance=None) == pytest.approx(svcca(Z, W, variance=None), abs=1e-10)
    assert shape_distance(Zdup, W, 0.0) == pytest.approx(shape_distance(Z, W, 0.0), abs=1e-9)
    assert np.isfinite(procrustes_distance(rng.standard_normal((10, 300)), rng.standard_normal((10, 40))))


def test_clustered_neighbours_give_known_mutual_knn():
    rng = np.random.default_rng(0)
    k, C = 4, 6
    centres = 20 * rng.standard_normal((C, 8))
    lab = np.repeat(np.arange(C), k + 1)
    X = centres[lab] + 0.1 * rng.standard_normal((lab.size, 8))
    Y = (centres[lab] + 0.1 * rng.standard_normal((lab.size, 8))) @ _orth(8)
    assert mutual_knn(X, Y, k) == pytest.approx(1.0)
    perm = np.argsort(np.tile(np.arange(k + 1), C), kind="stable")       # new clusters: one member of each old
    Yp = centres[lab][np.argsort(perm)] + 0.1 * rng.standard_normal((lab.size, 8))
    assert mutual_knn(X, Yp[perm.argsort()][perm], k) <= 0.25


def test_cknna_with_all_neighbours_is_debiased_linear_cka():
    X, Y = _pair(n=40)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Yn = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    assert cknna(X, Y, None) == pytest.approx(cka(Xn, Yn, debiased=True), abs=1e-10)
    assert cknna(X, X, 5) == pytest.approx(1.0)


def test_rsa_known_answers():
    X, _ = _pair()
    assert rsa(X, 2 * X @ _orth(6) + 1, metric="euclidean") == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    assert abs(rsa(rng.standard_normal((150, 5)), rng.standard_normal((150, 5)))) < 0.1


def test_twonn_and_pca_dimension_planted():
    rng = np.random.default_rng(0)
    plane = rng.uniform(size=(2000, 2)) @ _orth(10)[:2]
    assert twonn(plane) == pytest.approx(2.0, abs=0.15)
    low = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 40))
    assert pca_dimension(low, 1.0) == 5 and pca_dimension(low, 0.9) <= 5
    rogue = rng.standard_normal((300, 40))
    rogue[:, 7] *= 100.0
    assert pca_dimension(rogue, 0.9) == 1


# ----------------------------------------------------------------------------- slow literal references
def test_against_literal_references():
    X, Y = _pair()
    assert procrustes_distance(X, Y) == pytest.approx(procrustes_literal(X, Y), abs=1e-9)
    for alpha in (1.0, 0.5, 0.0):
        assert shape_distance(X, Y, alpha) == pytest.approx(netrep_linear_metric(X, Y, alpha), abs=1e-7)
    for v in (0.99, 0.9, None):
        assert svcca(X, Y, variance=v) == pytest.approx(svcca_literal(X, Y, v), abs=1e-9)
    assert pwcca(X, Y) == pytest.approx(pwcca_literal(X, Y), abs=1e-9)
    assert pwcca(Y, X) == pytest.approx(pwcca_literal(Y, X), abs=1e-9)
    Xs, Ys = X[:40], Y[:40]
    for metric in ("cosine", "correlation", "euclidean", "sqeuclidean"):
        assert rdm(Xs, metric) == pytest.approx(rdm_literal(Xs, metric), abs=1e-10)
        for method in ("pearson", "spearman"):
            assert rsa(Xs, Ys, metric=metric, method=method) == pytest.approx(rsa_literal(Xs, Ys, metric, method),
                                                                              abs=1e-9)
    for k in (1, 5, 20):
        assert mutual_knn(X, Y, k) == pytest.approx(platonic_mutual_knn(X, Y, k), abs=1e-12)
    for k in (2, 5, 20, 79):
        assert cknna(X, Y, k) == pytest.approx(platonic_cknna(X, Y, k), abs=1e-9)
    assert twonn(X[:60]) == pytest.approx(twonn_literal(X[:60]), abs=1e-9)


def test_knn_indices_exclude_self_and_break_ties_by_index():
    X = np.array([[1.0, 0], [1, 0], [1, 0], [0, 1], [0, 1]])
    idx = knn_indices(X, 2)
    assert idx.tolist() == [[1, 2], [0, 2], [0, 1], [0, 4], [0, 3]]


# ----------------------------------------------------------------------------- the engine
class _Counting(Measure):
    name = "count"

    def __init__(self):
        self.prepared = 0

    def prepare(self, X):
        self.prepared += 1
        return X

    def pair(self, a, b):
        return float(np.corrcoef(a[:, 0], b[:, 0])[0, 1])


def _layers(L=4, n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d))
    out = []
    for _ in range(L):
        h = h + 0.7 * rng.standard_normal((n, d))
        out.append(h.copy())
    return out


@pytest.mark.parametrize("measure", [ProcrustesMeasure(), ShapeMeasure(0.5), SVCCAMeasure(), PWCCAMeasure(),
                                     RSAMeasure("euclidean", "pearson"), MutualKNNMeasure(5), CKNNAMeasure(5)])
def test_grid_equals_pairwise_values(measure):
    A, B = _layers(seed=0), _layers(seed=1)
    mats = layer_grid({"a": A, "b": B}, [("a", "a"), ("a", "b")], measure)
    for i in range(4):
        for j in range(4):
            # distances of (near-)identical layers are sqrt of rounding noise (~1e-8): compare at 1e-7
            assert mats[("a", "a")][i, j] == pytest.approx(measure(A[i], A[j]), abs=1e-7)
            assert mats[("a", "b")][i, j] == pytest.approx(measure(A[i], B[j]), abs=1e-10)


def test_grid_prepares_each_layer_once_and_mirrors_symmetric_measures():
    m = _Counting()
    A, B = _layers(seed=0), _layers(seed=1)
    mats = layer_grid({"a": A, "b": B}, None, m)
    assert m.prepared == 8
    assert np.allclose(mats[("a", "a")], mats[("a", "a")].T)


def test_grid_constant_layer_is_nan_with_one_warning():
    A = _layers()
    A[2] = np.ones_like(A[2])
    with pytest.warns(RuntimeWarning, match=r"layer\(s\) \[2\]"):
        M = layer_grid({"a": A}, None, SVCCAMeasure())[("a", "a")]
    assert np.isnan(M[2]).all() and np.isnan(M[:, 2]).all() and np.isfinite(M[0, 1])


def test_preprocessing_variants():
    X = _layers()[0]
    X[:, 1] *= 50.0
    assert preprocess_layer(X, "standardize") == pytest.approx(standardize_features(X))
    t = clip_threshold(X, 0.95)
    assert t == np.sort(np.abs(X).ravel())[int(0.95 * X.size)]             # platonic-rep's exact quantile
    C = preprocess_layer(X, "clip", 0.95)
    assert np.abs(C).max() == pytest.approx(t) and (C == X)[np.abs(X) <= t].all()
    with pytest.raises(ValidationError, match="preprocess must be one of"):
        preprocess_layer(X, "whiten")
    with pytest.raises(ValidationError, match="NaN"):
        preprocess_layer(np.full((3, 2), np.nan))


def test_jackknife_grid_slices_are_grids_without_the_block():
    A, B = _layers(seed=0), _layers(seed=1)
    blocks = np.arange(60) % 3
    J = jackknife_grid({"a": A, "b": B}, [("a", "b")], SVCCAMeasure(), blocks)[("a", "b")]
    assert J.shape == (3, 4, 4)
    keep = blocks != 1
    ref = layer_grid({"a": [x[keep] for x in A], "b": [x[keep] for x in B]}, [("a", "b")], SVCCAMeasure())
    assert J[1] == pytest.approx(ref[("a", "b")], abs=1e-12)


def test_bad_inputs_are_one_line_errors():
    X, Y = _pair()
    with pytest.raises(ValidationError, match="same rows"):
        svcca(X, Y[:10])
    with pytest.raises(ValidationError, match="alpha must be in"):
        ShapeMeasure(1.5)
    with pytest.raises(ValidationError, match="topk must be in"):
        mutual_knn(X, Y, 500)
    with pytest.raises(ValidationError, match="CKNNA needs topk >= 2"):
        CKNNAMeasure(1)
    with pytest.raises(ValidationError, match="metric must be one of"):
        rsa(X, Y, metric="manhattan")
    with pytest.raises(ValidationError, match="names set"):
        layer_grid({"a": [X]}, [("a", "b")], SVCCAMeasure())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValidationError, match="duplicate"):
            twonn(np.zeros((10, 3)))
