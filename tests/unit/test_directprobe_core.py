"""Known-answer tests for DirectProbe (Zhou & Srikumar 2021) and its exact hull primitives."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from ftgeo.analysis import _hull
from ftgeo.analysis.directprobe import (DirectProbe, hull_distance, hulls_overlap,
                                        point_hull_distance, spatial_similarity)
from ftgeo.errors import ValidationError


def _blobs(rng, centers, n_per, spread):
    X = np.vstack([c + spread * rng.uniform(-1, 1, size=(n_per, len(c))) for c in centers])
    y = np.repeat(np.arange(len(centers)), n_per)
    return X, y


# ---------------------------------------------------------------- hull primitives
def test_parallel_hyperplanes_distance_two():
    rng = np.random.default_rng(0)
    d = 5
    A = rng.normal(size=(30, d))
    A[:, 0] = 1.0                      # on the hyperplane x0 = +1
    B = rng.normal(size=(25, d))
    B[:, 0] = -1.0                     # on the hyperplane x0 = -1
    # the hulls are (d-1)-dimensional and their projections on x0 = const overlap, so dist = 2 exactly
    assert hull_distance(A, B) == pytest.approx(2.0, abs=1e-9)
    assert not hulls_overlap(A, B)


def test_boxes_known_distance():
    # unit cubes [0,1]^3 and [3,4] x [0,1] x [0,1]: distance 2 along x
    cube = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    other = cube + np.array([3.0, 0.0, 0.0])
    assert hull_distance(cube, other) == pytest.approx(2.0, abs=1e-12)
    # diagonal offset (3, 3, 0): nearest points (1,1,z) and (3,3,z) -> 2*sqrt(2)
    assert hull_distance(cube, cube + np.array([3.0, 3.0, 0.0])) == pytest.approx(2 * np.sqrt(2), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_hull_distance_matches_hard_margin_svm(seed):
    from sklearn.svm import SVC
    rng = np.random.default_rng(seed)
    d = 6 + seed
    A = rng.normal(size=(40, d)) + 2.0
    B = rng.normal(size=(35, d)) - 2.0
    X = np.vstack([A, B])
    y = np.r_[np.ones(len(A)), -np.ones(len(B))]
    svc = SVC(kernel="linear", C=1e10, tol=1e-8).fit(X, y)
    assert svc.score(X, y) == 1.0
    assert hull_distance(A, B) == pytest.approx(2.0 / np.linalg.norm(svc.coef_), rel=1e-5)


def _in_hull_brute(p, A):
    """Reference: p in conv(A) iff the LP  A^T lam = p, sum lam = 1, lam >= 0  is feasible."""
    from scipy.optimize import linprog
    n = A.shape[0]
    res = linprog(np.zeros(n), A_eq=np.vstack([A.T, np.ones((1, n))]), b_eq=np.r_[p, 1.0],
                  bounds=(0, None), method="highs")
    return res.status == 0


def _overlap_brute(A, B):
    """Reference: hulls meet iff  A^T lam = B^T mu, sum lam = sum mu = 1, lam, mu >= 0  is feasible."""
    from scipy.optimize import linprog
    na, nb = len(A), len(B)
    Aeq = np.zeros((A.shape[1] + 2, na + nb))
    Aeq[:-2, :na] = A.T
    Aeq[:-2, na:] = -B.T
    Aeq[-2, :na] = 1
    Aeq[-1, na:] = 1
    beq = np.r_[np.zeros(A.shape[1]), 1.0, 1.0]
    return linprog(np.zeros(na + nb), A_eq=Aeq, b_eq=beq, bounds=(0, None), method="highs").status == 0


def test_overlap_agrees_with_convex_combination_lp():
    rng = np.random.default_rng(1)
    agree = 0
    seen = set()
    for t in range(120):
        d = int(rng.integers(2, 5))
        A = rng.normal(size=(int(rng.integers(1, 8)), d))
        B = rng.normal(size=(int(rng.integers(1, 8)), d)) + rng.normal(scale=1.5, size=d)
        truth = _overlap_brute(A, B)
        seen.add(truth)
        assert hulls_overlap(A, B) == truth, (t, A, B)
        agree += 1
    assert seen == {True, False}


def test_overlap_with_constraint_generation_on_large_sets():
    # > 2 * working-set size, so constraint generation runs; compare with the single full LP
    rng = np.random.default_rng(2)
    for shift in (0.0, 0.6, 1.5, 4.0):
        A = rng.normal(size=(300, 8))
        B = rng.normal(size=(250, 8)) + shift
        full = _hull.lp_separate(A, B) is None
        assert hulls_overlap(A, B) == full
        assert hulls_overlap(A, B) == _overlap_brute(A, B)
        # seeding the working set with a Wolfe support changes the work, not the answer
        *_, support = _hull.min_norm_point(A, B, max_iter=50, return_support=True)
        assert (_hull.separate(A, B, seed_rows=support) is None) == full


def test_duplicate_points_with_different_labels_overlap():
    A = np.array([[0.0, 1.0]])
    assert hulls_overlap(A, A.copy())
    assert hull_distance(A, A.copy()) == 0.0


def test_point_hull_distance():
    square = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)
    assert point_hull_distance([0.5, 0.5], square) == pytest.approx(0.0, abs=1e-12)
    assert point_hull_distance([3.0, 0.5], square) == pytest.approx(2.0, abs=1e-12)
    assert point_hull_distance([4.0, 5.0], square) == pytest.approx(5.0, abs=1e-12)
    rng = np.random.default_rng(3)
    A = rng.normal(size=(20, 3))
    for p in rng.normal(size=(10, 3)) * 2:
        assert (point_hull_distance(p, A) < 1e-9) == _in_hull_brute(p, A)


# ---------------------------------------------------------------- the clustering
def test_separable_blobs_give_one_cluster_per_label_and_analytic_margin():
    rng = np.random.default_rng(4)
    # boxes [0,1]^2, [4,5]x[0,1], [0,1]x[4,5] filled with points, plus their corners (hulls = the boxes)
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
    Xs, ys = [], []
    for lab, off in enumerate([(0, 0), (4, 0), (0, 4)]):
        pts = np.vstack([corners, rng.uniform(0, 1, size=(20, 2))]) + np.array(off, float)
        Xs.append(pts)
        ys.append(np.full(len(pts), lab))
    X, y = np.vstack(Xs), np.concatenate(ys)
    dp = DirectProbe(progress=False).fit(X, y)
    assert dp.n_clusters_ == 3 and dp.n_labels_ == 3
    assert np.array_equal(dp.labels_, [0, 1, 2])
    assert np.array_equal(dp.assignments_, y)
    # box distances: (0,1) -> 3, (0,2) -> 3, (1,2) -> dist([4,5]x[0,1], [0,1]x[4,5]) = ||(4,1)-(1,4)|| = 3 sqrt 2
    np.testing.assert_allclose(dp.distance_vector_, [3.0, 3.0, 3 * np.sqrt(2)], atol=1e-9)
    np.testing.assert_allclose(dp.label_min_distance_, [3.0, 3.0, 3.0], atol=1e-9)
    assert [tuple(p) for p in dp.distance_vector_pairs_] == [(0, 1), (0, 2), (1, 2)]
    assert len(dp.cluster_distances_) == 3


def test_whole_label_certificates_skip_every_merge_test_on_separable_labels():
    """Separable labels are certified once, up front; no merge needs a test, the clusters are unchanged."""
    from ftgeo.analysis.directprobe import directprobe_reference
    rng = np.random.default_rng(11)
    X, y = _blobs(rng, [np.r_[4.0 * k, np.zeros(5)] for k in range(4)], 15, 1.0)
    dp = DirectProbe(progress=False).fit(X, y)
    assert dp.stats_["label_pairs_certified"] == 6
    assert dp.stats_["candidates"] == 0 and dp.stats_["lp"] == 0
    assign, _ = directprobe_reference(X, y)
    np.testing.assert_array_equal(dp.assignments_, assign)
    # XOR labels cannot be certified as wholes: the per-cluster tests still run
    Xx = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], float).repeat(5, axis=0) + rng.uniform(-.2, .2, (20, 2))
    yx = np.array([0, 0, 1, 1]).repeat(5)
    dx = DirectProbe(progress=False).fit(Xx, yx)
    assert dx.stats_["label_pairs_certified"] == 0 and dx.stats_["candidates"] > 0
    # one diagonal merges (its band misses the other corners), then the other diagonal cannot
    assert dx.n_clusters_ == 3
    np.testing.assert_array_equal(dx.assignments_, directprobe_reference(Xx, yx)[0])


def test_svm_direction_separates_nearly_touching_sets():
    rng = np.random.default_rng(12)
    d = 40
    A = rng.normal(size=(300, d))
    B = rng.normal(size=(300, d))
    A[:, 0] = np.abs(A[:, 0]) + 1e-3      # a gap of 2e-3 along x0 in 40-d
    B[:, 0] = -np.abs(B[:, 0]) - 1e-3
    w = _hull.svm_direction(A, B)
    assert w is not None and np.linalg.norm(w) == pytest.approx(1.0)
    assert (A @ w).min() > (B @ w).max()
    # overlapping sets: a direction comes back, but it cannot separate (callers verify)
    w2 = _hull.svm_direction(A, A[::-1] + 0.01)
    assert w2 is None or (A @ w2).min() <= ((A[::-1] + 0.01) @ w2).max()


def test_xor_gives_four_clusters_for_two_labels():
    rng = np.random.default_rng(5)
    # squares of side 0.6 around the unit-square corners: either diagonal band meets the other label's squares
    corners = {(0, 0): 0, (1, 1): 0, (0, 1): 1, (1, 0): 1}
    Xs, ys = [], []
    for c, lab in corners.items():
        sq = np.array(list(itertools.product([-0.3, 0.3], repeat=2))) + np.array(c, float)
        Xs.append(np.vstack([sq, np.array(c, float) + rng.uniform(-0.3, 0.3, size=(6, 2))]))
        ys.append(np.full(10, lab))
    X, y = np.vstack(Xs), np.concatenate(ys)
    dp = DirectProbe(progress=False).fit(X, y)
    assert dp.n_labels_ == 2
    assert dp.n_clusters_ == 4
    assert sorted(dp.cluster_sizes_.tolist()) == [10, 10, 10, 10]
    # the four corner groups are the clusters
    for k in range(4):
        assert len(np.unique(dp.assignments_[10 * k:10 * (k + 1)])) == 1


def test_duplicate_points_with_different_labels_stay_apart():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    y = np.array([0, 1, 0, 1])
    dp = DirectProbe(progress=False).fit(X, y)
    # [0,0]-label0 with [1,0] is fine (segment does not contain another label's point? it contains [0,0] of
    # label 1 as an endpoint) -> rejected; every cluster stays a single point
    assert dp.n_clusters_ == 4
    assert np.all(dp.distance_vector_ == 0.0)


def test_clusters_are_pure_and_hulls_disjoint_across_labels():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(80, 3))
    y = rng.integers(0, 3, size=80)
    dp = DirectProbe(progress=False).fit(X, y)
    for k in range(dp.n_clusters_):
        assert np.all(y[dp.assignments_ == k] == dp.labels_[k])
    for i in range(dp.n_clusters_):
        for j in range(i + 1, dp.n_clusters_):
            if dp.labels_[i] != dp.labels_[j]:
                assert not _overlap_brute(X[dp.assignments_ == i], X[dp.assignments_ == j])
                assert dp.cluster_distance_matrix_[i, j] > 0


def test_determinism_repeated_runs_and_label_values():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(70, 4))
    y = rng.integers(0, 3, size=70)
    a = DirectProbe(progress=False).fit(X, y)
    b = DirectProbe(progress=False).fit(X, y)
    assert np.array_equal(a.assignments_, b.assignments_)
    np.testing.assert_array_equal(a.distance_vector_, b.distance_vector_)
    names = np.array(["ADJ", "NOUN", "VERB"])[y]
    c = DirectProbe(progress=False).fit(X, names)
    assert np.array_equal(a.assignments_, c.assignments_)
    assert list(c.classes_) == ["ADJ", "NOUN", "VERB"]


def test_spatial_similarity():
    rng = np.random.default_rng(9)
    X, y = _blobs(rng, [np.array(c, float) for c in [(0, 0), (5, 0), (0, 7), (9, 9)]], 8, 0.5)
    a = DirectProbe(progress=False).fit(X, y)
    assert spatial_similarity(a, a) == pytest.approx(1.0)
    # a similarity transform (rotation, scaling, translation) keeps the distance vector up to scale
    Q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
    b = DirectProbe(progress=False).fit(3.0 * X @ Q + 1.0, y)
    np.testing.assert_allclose(b.distance_vector_, 3.0 * a.distance_vector_, rtol=1e-7)
    assert spatial_similarity(a, b) == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="different label sets"):
        spatial_similarity(a, DirectProbe(progress=False).fit(X, y + 1))
    # a test split without label 3: "common" compares the 3 shared labels' 3 pairs
    keep = y != 3
    c = DirectProbe(progress=False).fit(X[keep] * 2.0, y[keep])
    with pytest.raises(ValidationError, match="different label sets"):
        spatial_similarity(a, c)
    assert spatial_similarity(a, c, labels="common") == pytest.approx(1.0)
    sub = a.label_pair_distance_[:3, :3][np.triu_indices(3, 1)]
    np.testing.assert_allclose(c.distance_vector_, 2.0 * sub, rtol=1e-7)
    with pytest.raises(ValidationError, match="two fitted DirectProbe"):
        spatial_similarity(a.distance_vector_, c, labels="common")


def test_predict_nearest_hull():
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
    X = np.vstack([corners, corners + [4.0, 0.0]])
    y = np.array([0] * 4 + [1] * 4)
    dp = DirectProbe(progress=False).fit(X, y)
    T = np.array([[0.5, 0.5], [1.9, 0.5], [3.2, 0.5], [4.5, 0.5], [2.4, 9.0]])
    np.testing.assert_array_equal(dp.predict(T), [0, 0, 1, 1, 0])
    c, dist = dp.nearest_cluster(T)
    np.testing.assert_allclose(dist, [0.0, 0.9, 0.8, 0.0, np.hypot(1.4, 8.0)], atol=1e-9)
    assert dp.score(T, [0, 0, 1, 1, 0]) == 1.0


def test_label_min_pairs_mode_matches_all_pairs():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 3, size=60)
    a = DirectProbe(progress=False, pairs="all").fit(X, y)
    b = DirectProbe(progress=False, pairs="label_min").fit(X, y)
    np.testing.assert_allclose(a.distance_vector_, b.distance_vector_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.label_min_distance_, b.label_min_distance_, rtol=1e-8, atol=1e-12)


def test_validation_messages():
    with pytest.raises(ValidationError, match="distance='median' is not one of"):
        DirectProbe(distance="median").fit(np.zeros((3, 2)), [0, 1, 0])
    with pytest.raises(ValidationError, match="y has 2 entries but the features have 3 rows"):
        DirectProbe().fit(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValidationError, match="not fitted"):
        DirectProbe().predict(np.zeros((1, 2)))


def test_threshold_errors_counts_the_fewest_misplaced_points():
    from ftgeo.analysis.directprobe import _threshold_errors
    assert _threshold_errors(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 0
    assert _threshold_errors(np.array([3.0, 1.5]), np.array([1.0, 2.0])) == 1     # one of A sits among B
    assert _threshold_errors(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 2     # reversed: 2 either way
    assert _threshold_errors(np.array([1.0]), np.array([1.0])) == 1               # a tie is not a separation
    rng = np.random.default_rng(0)
    pa, pb = rng.normal(size=17), rng.normal(size=13)
    brute = min(int((pa <= c).sum() + (pb > c).sum()) for c in np.r_[np.r_[pa, pb], -np.inf])
    assert _threshold_errors(pa, pb) == brute


def test_nearly_separating_svm_plane_sends_the_label_pair_to_the_exact_lp(monkeypatch):
    """A label pair the SVM misses by a few points is decided once by the LP: separable labels are
    certified (no merge test between them), and the clusters stay the reference's."""
    from ftgeo.analysis import directprobe as dpmod
    from ftgeo.analysis.directprobe import directprobe_reference
    rng = np.random.default_rng(21)
    d = 6
    A = rng.normal(size=(40, d))
    B = rng.normal(size=(40, d))
    A[:, 0] = np.abs(A[:, 0]) + 0.05
    B[:, 0] = -np.abs(B[:, 0]) - 0.05                    # separable along x0 ...
    X, y = np.vstack([A, B]), np.repeat([0, 1], 40)
    tilted = np.r_[1.0, 0.3, np.zeros(d - 2)]            # ... but the "SVM" plane misplaces a few points
    tilted /= np.linalg.norm(tilted)
    errors = dpmod._threshold_errors(A @ tilted, B @ tilted)
    assert 0 < errors <= 5
    monkeypatch.setattr(dpmod, "_LABEL_ITERS", 0)
    monkeypatch.setattr(dpmod._hull, "svm_direction", lambda A, B, **k: tilted)
    dp = DirectProbe(progress=False).fit(X, y)
    assert dp.stats_["label_pair_lps"] == 1 and dp.stats_["label_pairs_certified"] == 1
    assert dp.stats_["candidates"] == 0 and dp.n_clusters_ == 2
    # a plane that misplaces many points is not worth the LP: per-cluster tests run instead
    monkeypatch.setattr(dpmod._hull, "svm_direction", lambda A, B, **k: np.r_[0.0, 1.0, np.zeros(d - 2)])
    dq = DirectProbe(progress=False).fit(X, y)
    assert dq.stats_["label_pair_lps"] == 0 and dq.stats_["label_pairs_certified"] == 0
    # ... until LPs between its clusters keep saying "separated": then the pair gets its LP once
    monkeypatch.setattr(dpmod, "_QUICK_ITERS", 1)
    monkeypatch.setattr(dpmod, "_SVM_MIN_POINTS", 0)
    dr = DirectProbe(progress=False).fit(X, y)
    assert dr.stats_["lp_pairs"] == dpmod._LABEL_LP_AFTER
    assert dr.stats_["label_pair_lps"] == 1 and dr.stats_["label_pairs_certified"] == 1
    for fit in (dp, dq, dr):
        np.testing.assert_array_equal(fit.assignments_, directprobe_reference(X, y)[0])


def test_max_margin_lp_on_known_slab():
    """Points on x0 = +-1 with other coordinates spread: in box norm the widest slab uses w = e0 (t = 1
    in these units); overlapping sets give t <= 0."""
    rng = np.random.default_rng(4)
    UA = np.c_[np.ones(30), rng.uniform(-1, 1, size=(30, 3))]
    UB = np.c_[-np.ones(30), rng.uniform(-1, 1, size=(30, 3))]
    w, t = _hull.lp_max_margin(UA, UB)
    assert t == pytest.approx(1.0, abs=1e-7)
    assert (UA @ w).min() - (UB @ w).max() == pytest.approx(2.0, abs=1e-6)
    _, t_overlap = _hull.lp_max_margin(UA, np.vstack([UB, UA[:3]]))
    assert t_overlap <= 1e-9
