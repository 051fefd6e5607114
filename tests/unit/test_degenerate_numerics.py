"""Numerics that cannot be silently wrong: certified DirectProbe overlap verdicts and degenerate CKA inputs.

* DirectProbe: an "overlap" verdict needs an overlap witness (convex combinations of A and B within
  1e-9 x scale of each other), a "separated" verdict a direction verified in float64.  The repro
  (tests/data/directprobe_false_overlap.npz, real MiniLM vectors where HiGHS's interior point
  wrongly reports the separability LP infeasible) must come out separated with a positive distance,
  and a solver that lies "infeasible" every time must not change any verdict.
* CKA: constant inputs (also when the constant is not representable, e.g. 0.1), inputs whose
  debiased estimator is 0/0 (two distinct rows, one of them a single row) raise
  ConstantRepresentationError in the pairwise functions and give NaN with a warning naming the
  layer in the layer matrix; no value is ever outside [0, 1] (biased) or [-1, 1] (debiased).
  Property tests generate such inputs: constant columns, N = 2..5, duplicated rows, a 1e4x rogue
  dimension, float16.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftgeo.analysis import _hull
from ftgeo.analysis.directprobe import DirectProbe, directprobe_reference, hull_distance, hulls_overlap
from ftgeo.analysis.similarity import (ConstantRepresentationError, LayerCKA, cka, cka_gram, gram_linear,
                                       layer_cka_matrix, linear_cka_features, minibatch_cka, center)
from ftgeo.errors import ValidationError

DATA = Path(__file__).resolve().parents[1] / "data"
PROPS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


def _repro():
    z = np.load(DATA / "directprobe_false_overlap.npz")
    return z["A"], z["B"]


# ================================================================== DirectProbe: certified verdicts
def test_repro_sets_are_separated_with_a_positive_distance():
    """The issue's repro: provably separable (hull gap >= 1.28e-3 in exact arithmetic)."""
    A, B = _repro()
    assert A.shape == (30, 16) and B.shape == (16, 16) and A.dtype == np.float32
    assert hulls_overlap(A, B) is False
    dist = hull_distance(A, B)
    assert dist >= 1.28e-3 and dist == pytest.approx(1.2824e-3, rel=1e-3)
    st_ = {}
    res = _hull.separate(A, B, stats=st_)
    assert res is not None
    w, lo, hi = res
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    assert float((A64 @ w).min()) - float((B64 @ w).max()) > 0          # the certificate, re-checked here
    assert _hull.lp_separates(A64, B64)                                  # the slow reference agrees
    # no convex combinations of A and B come within the overlap tolerance
    wit = _hull.overlap_witness(A64, B64)
    assert wit is None or wit[2] > _hull.OVERLAP_RTOL * np.abs(A64).max()


def test_bench_planted_pair_wrongly_rejected_before_is_separated():
    """A second instance, from bench/directprobe.py's planted set (17 Gaussians in 16-d, 2,000 points):
    a merged cluster of 12 points vs an 84-point cluster that HiGHS's interior point calls
    inseparable; the plane found by the dual simplex separates them in exact rational arithmetic
    (gap 6.87e-5), so the merge was wrongly rejected (332 rejections before, 330 now)."""
    from fractions import Fraction
    z = np.load(DATA / "directprobe_false_overlap_planted.npz")
    A, B = z["A"], z["B"]
    assert hulls_overlap(A, B) is False
    w, _, _ = _hull.separate(A, B)
    wf = [Fraction(float(v)) for v in w]
    proj = lambda P: [sum((Fraction(float(x)) * c for x, c in zip(row, wf)), Fraction(0)) for row in P]
    assert min(proj(A)) > max(proj(B))                  # exact: no rounding can fake this
    assert hull_distance(A, B) == pytest.approx(6.8703e-5, rel=1e-4)


def test_margin_lp_duals_certify_overlap_without_a_second_lp():
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(200, 8)), rng.normal(size=(150, 8)) + 0.5     # > 96 points: constraint generation
    st_ = {}
    assert _hull.separate(A, B, stats=st_) is None
    assert st_.get("overlap_witness_dual") == 1 and "overlap_witness_lp" not in st_


def test_repro_sets_cluster_apart_in_directprobe_and_its_reference():
    A, B = _repro()
    X = np.vstack([A, B]).astype(np.float64)
    y = np.r_[np.zeros(len(A), dtype=int), np.ones(len(B), dtype=int)]
    dp = DirectProbe(progress=False).fit(X, y)
    assert dp.n_clusters_ == 2
    assert dp.distance_vector_[0] == pytest.approx(1.2824e-3, rel=1e-3)
    ra, rl = directprobe_reference(X, y)
    assert np.array_equal(ra, dp.assignments_) and np.array_equal(rl, dp.cluster_label_codes_)


def _lying_ipm(real):
    """A HiGHS stand-in whose interior point says "infeasible" to every LP (status 2)."""
    class _Res:
        status, x, message = 2, None, "infeasible (lie)"

    def fake(c, A_ub, b_ub, bounds, method="highs-ipm"):
        if method == "highs-ipm":
            return _Res()
        return real(c, A_ub, b_ub, bounds, method)
    return fake


def test_a_lying_interior_point_cannot_reject_the_repro_merge(monkeypatch):
    A, B = _repro()
    monkeypatch.setattr(_hull, "_linprog", _lying_ipm(_hull._linprog))
    st_ = {}
    assert _hull.separate(A, B, stats=st_) is not None
    assert st_["overlap_unconfirmed"] == 1            # the claim was checked and overruled
    assert hulls_overlap(A, B) is False


def test_overlap_verdicts_come_with_a_witness_and_fail_loudly_without_one(monkeypatch):
    rng = np.random.default_rng(3)
    A = rng.normal(size=(20, 4))
    B = rng.normal(size=(15, 4))                       # interleaved clouds: the hulls meet
    lam, mu, gap = _hull.overlap_witness(A, B)
    assert gap <= _hull.OVERLAP_RTOL * max(np.abs(A).max(), np.abs(B).max())
    assert lam.min() >= 0 and mu.min() >= 0 and lam.sum() == pytest.approx(1) and mu.sum() == pytest.approx(1)
    assert hulls_overlap(A, B)
    # a witness far from meeting is not accepted; with every certificate broken the code raises, not guesses
    monkeypatch.setattr(_hull, "overlap_witness", lambda A, B: (None))
    monkeypatch.setattr(_hull, "min_norm_point", lambda A, B, **k: (1.0, 0.0, np.ones(A.shape[1])))
    with pytest.raises(_hull.HullSolverError, match="could not certify"):
        hulls_overlap(A, B)


@st.composite
def _point_sets(draw):
    """Small point sets of every kind: interleaved, separated by a gap, touching at a shared point,
    with duplicates, a 1e4x rogue dimension, cast to float16/float32."""
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    nA, nB = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    d = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["interleaved", "gap", "touching", "duplicate", "tiny_gap"]))
    A = rng.normal(size=(nA, d))
    B = rng.normal(size=(nB, d))
    if kind in ("gap", "tiny_gap"):
        u = rng.normal(size=d)
        u /= np.linalg.norm(u)
        gap = 1.0 if kind == "gap" else 1e-4
        A = A - np.outer(A @ u, u) + np.outer(np.abs(rng.normal(size=nA)) + gap / 2, u)
        B = B - np.outer(B @ u, u) - np.outer(np.abs(rng.normal(size=nB)) + gap / 2, u)
    elif kind == "touching":
        B[0] = A[0]
    elif kind == "duplicate":
        A = np.vstack([A, A[:1], A[:1]])
        B = np.vstack([B, B[-1:]])
    if draw(st.booleans()):
        A[:, 0] *= 1e4
        B[:, 0] *= 1e4
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16]))
    return A.astype(dtype), B.astype(dtype)


def _check_verdict(A, B):
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    scale = max(np.abs(A64).max(), np.abs(B64).max())
    dist, lower, _ = _hull.min_norm_point(A64, B64, rtol=1e-12)     # independent: Wolfe to convergence
    if hulls_overlap(A, B):
        assert dist <= 1e-8 * scale, f"overlap reported but the hulls are {dist:.3g} apart"
        assert hull_distance(A, B) == 0.0
        return True
    res = _hull.separate(A64, B64)
    assert res is not None
    w, _, _ = res
    assert float((A64 @ w).min()) - float((B64 @ w).max()) > 0
    assert lower > 0 and hull_distance(A, B) == pytest.approx(dist, rel=1e-6, abs=1e-12 * scale)
    return False


@PROPS
@given(_point_sets())
def test_property_every_verdict_is_certified(sets):
    _check_verdict(*sets)


@PROPS
@given(_point_sets())
def test_property_a_lying_interior_point_changes_no_verdict(sets):
    A, B = sets
    honest = hulls_overlap(A, B)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_hull, "_linprog", _lying_ipm(_hull._linprog))
        assert hulls_overlap(A, B) == honest
        assert _hull.lp_separates(A.astype(np.float64), B.astype(np.float64)) == (not honest)


def test_directprobe_with_a_lying_interior_point_gives_the_same_clusters(monkeypatch):
    rng = np.random.default_rng(0)
    means = rng.normal(size=(4, 5)) * 1.2
    y = rng.integers(0, 4, size=80)
    X = means[y] + rng.normal(size=(80, 5))
    honest = DirectProbe(progress=False).fit(X, y)
    assert honest.stats_["rejected"] > 0                  # overlapping labels: overlap verdicts are exercised
    monkeypatch.setattr(_hull, "_linprog", _lying_ipm(_hull._linprog))
    liar = DirectProbe(progress=False).fit(X, y)
    assert np.array_equal(liar.assignments_, honest.assignments_)
    np.testing.assert_allclose(liar.cluster_distance_matrix_, honest.cluster_distance_matrix_, equal_nan=True)


# ================================================================== CKA: the cases
@pytest.mark.parametrize("value", [0.1, 7.0, -3.3, 1e-7, 123456.789])
@pytest.mark.parametrize("kernel,debiased", [("linear", False), ("linear", True), ("rbf", False), ("rbf", True)])
def test_constant_input_raises_whether_or_not_the_constant_is_representable(value, kernel, debiased):
    Y = np.random.default_rng(0).normal(size=(15, 4))
    C = np.full((15, 4), value)
    with pytest.raises(ConstantRepresentationError, match="X is constant"):
        cka(C, Y, kernel=kernel, debiased=debiased)
    with pytest.raises(ConstantRepresentationError, match="Y is constant"):
        cka(Y, C, kernel=kernel, debiased=debiased, standardize=True)
    with pytest.raises(ConstantRepresentationError):
        minibatch_cka(C, Y, batch_size=8, kernel=kernel)
    assert not center(C).any()                         # an all-equal column centres to exactly 0


def test_constant_up_to_rounding_is_constant_and_real_small_variation_is_not():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(40, 3))
    eps = np.finfo(np.float64).eps
    C = 0.1 * (1.0 + 2 * eps * rng.integers(-2, 3, size=(40, 3)))       # rows differ in the last bits only
    with pytest.raises(ConstantRepresentationError, match="X is constant"):
        cka(C, Y)
    V = 0.1 + 1e-9 * rng.normal(size=(40, 3))                           # small but real variation
    assert 0.0 <= cka(V, Y) <= 1.0
    assert cka(V, V) == 1.0


def _two_rows(n, d, seed=0):
    """Two distinct rows, one of them a single row: U(K) = 0, so debiased CKA is 0/0."""
    rng = np.random.default_rng(seed)
    X = np.tile(rng.normal(size=d), (n, 1))
    X[seed % n] = rng.normal(size=d)
    return X


@pytest.mark.parametrize("n,d", [(15, 4), (5, 3), (6, 10), (40, 2)])
def test_debiased_zero_over_zero_raises_instead_of_a_value_above_one(n, d):
    X = _two_rows(n, d)
    Y = np.random.default_rng(9).normal(size=(n, d))
    for a, b, name in ((X, Y, "X"), (Y, X, "Y"), (X, X, "X")):
        with pytest.raises(ConstantRepresentationError, match=f"{name} has zero debiased self-similarity"):
            cka(a, b, debiased=True)
    with pytest.raises(ConstantRepresentationError):
        minibatch_cka(X, Y, batch_size=n)
    with pytest.raises(ConstantRepresentationError):
        linear_cka_features(center(X), center(Y), debiased=True)
    with pytest.raises(ConstantRepresentationError):
        cka_gram(gram_linear(center(X)), gram_linear(center(Y)), debiased=True)
    assert 0.0 <= cka(X, Y) <= 1.0                    # the biased estimator is defined there


@pytest.mark.parametrize("device", ["numpy", "cpu"])
@pytest.mark.parametrize("batch_size", [None, 5])
def test_layer_cka_debiased_constant_and_zero_over_zero_layers_are_nan_with_a_note(device, batch_size):
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(15, 4)), rng.normal(size=(15, 4))
    layers = [X, np.full((15, 4), 0.1), Y, _two_rows(15, 4)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        M = LayerCKA(debiased=True, batch_size=batch_size, device=device, progress=False).fit(layers).matrix_
    msgs = [str(w.message) for w in caught]
    for bad in (1, 3):
        assert np.isnan(M[bad]).all() and np.isnan(M[:, bad]).all()
    assert any("constant layer" in m and "[1]" in m for m in msgs)
    assert any("zero debiased self-similarity" in m and "[3]" in m for m in msgs)
    good = M[np.ix_([0, 2], [0, 2])]
    assert np.isfinite(good).all() and np.abs(good).max() <= 1.0
    if batch_size is None:
        assert M[0, 2] == pytest.approx(cka(X, Y, debiased=True), abs=1e-12)


def test_run_cka_keeps_the_warning_as_a_note_naming_the_layer():
    from ftgeo.reps import InMemoryRepresentations
    from ftgeo.analyses.cka import run_cka
    rng = np.random.default_rng(4)
    layers = [rng.normal(size=(30, 5)), np.full((30, 5), 0.1), rng.normal(size=(30, 5))]
    reps = InMemoryRepresentations(layers, labels=np.zeros(30, dtype=int), label_names=["x"],
                                   manifest={"model": "m", "task": "t", "split": "train"})
    with pytest.warns(RuntimeWarning, match="constant layer"):
        res = run_cka(reps, debiased=True, device="numpy", progress=False, figures=False)
    M = res.matrix(res.pairs[0][0])
    assert np.isnan(M[1]).all() and np.isfinite(M[0, 2])
    assert any("constant layer" in n and "[1]" in n for n in res.meta["notes"])


def test_minibatch_last_small_batch_is_merged():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(6, 10)), rng.normal(size=(6, 10))
    # 6 rows in batches of 4: the last batch of 2 joins the first, i.e. one batch = debiased CKA
    assert minibatch_cka(X, Y, batch_size=4) == pytest.approx(cka(X, Y, debiased=True), abs=1e-12)
    M = layer_cka_matrix([X, Y], batch_size=4, device="numpy", progress=False)
    assert M[0, 1] == pytest.approx(cka(X, Y, debiased=True), abs=1e-12)


# ================================================================== CKA: property tests
@st.composite
def _reps(draw, n=None):
    """A representation of a degenerate (or ordinary) kind."""
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(2, 5) | st.integers(6, 40)) if n is None else n
    d = draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["ordinary", "constant", "constant_rounding", "two_rows", "duplicated_rows",
                                 "constant_columns", "rogue"]))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16]))
    top = 5.0 if dtype == np.float16 else 100.0          # x 1e4 (rogue) stays finite in float16
    value = draw(st.floats(-top, top, allow_nan=False, allow_infinity=False))
    X = rng.normal(size=(n, d))
    if kind == "constant":
        X = np.full((n, d), value)
    elif kind == "constant_rounding":
        X = value * (1.0 + 4 * np.finfo(np.float64).eps * rng.integers(-2, 3, size=(n, d)))
    elif kind == "two_rows":
        X = np.tile(X[0], (n, 1))
        X[int(rng.integers(n))] = rng.normal(size=d)
    elif kind == "duplicated_rows":
        X = X[rng.integers(0, max(1, n // 2), size=n)]
    elif kind == "constant_columns":
        X[:, rng.random(d) < 0.6] = value
    if kind == "rogue" or draw(st.booleans()):
        X[:, 0] *= 1e4
    X = X.astype(dtype)
    return kind, X


def _constant_up_to_rounding(X):
    X = np.asarray(X, dtype=np.float64)
    return np.array_equal(X, np.broadcast_to(X[:1], X.shape)) or \
        np.linalg.norm(center(X)) <= 16 * np.finfo(float).eps * np.sqrt(len(X)) * np.linalg.norm(X)


@st.composite
def _pairs(draw):
    kx, X = draw(_reps())
    ky, Y = draw(_reps(n=X.shape[0]))
    return kx, X, ky, Y


@PROPS
@given(_pairs(), st.sampled_from(["linear", "rbf"]), st.booleans(), st.booleans())
def test_property_pairwise_cka_is_in_its_bound_or_raises_the_documented_error(pair, kernel, debiased, standardize):
    kx, X, ky, Y = pair
    n = X.shape[0]
    try:
        v = cka(X, Y, kernel=kernel, debiased=debiased, standardize=standardize)
    except ConstantRepresentationError:
        return
    except ValidationError as e:
        assert debiased and n < 4 and "needs at least 4 examples" in str(e)
        return
    assert math.isfinite(v)
    assert (-1.0 if debiased else 0.0) <= v <= 1.0
    for kind, A in ((kx, X), (ky, Y)):
        assert not _constant_up_to_rounding(A), "a constant input gave a number"
        if debiased and kind == "two_rows":
            pytest.fail("a two-distinct-rows input (debiased 0/0) gave a number")


@PROPS
@given(st.lists(_reps(n=12), min_size=2, max_size=4), st.sampled_from(["linear", "rbf"]), st.booleans(),
       st.sampled_from([None, 6]))
def test_property_layer_matrix_is_nan_with_a_note_or_in_its_bound(layers, kernel, debiased, batch_size):
    kinds = [k for k, _ in layers]
    arrs = [X for _, X in layers]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        M = layer_cka_matrix(arrs, kernel=kernel, debiased=debiased, batch_size=batch_size, device="numpy",
                             progress=False)
    msgs = " ".join(str(w.message) for w in caught)
    lower = -1.0 if (debiased or batch_size) else 0.0
    finite = M[np.isfinite(M)]
    assert ((finite >= lower) & (finite <= 1.0)).all()
    for i, (kind, X) in enumerate(zip(kinds, arrs)):
        if _constant_up_to_rounding(X):
            assert np.isnan(M[i]).all(), "a constant layer got numbers"
        if (debiased or batch_size) and kind == "two_rows":
            assert np.isnan(M[i]).all(), "a debiased 0/0 layer got numbers"
        if np.isnan(M[i]).all():
            assert f"[{i}" in msgs or f", {i}" in msgs, f"layer {i} is NaN without a note naming it: {msgs}"
        if batch_size is None and not np.isnan(M[i, i]):
            # agreement with the pairwise function wherever both are defined
            j = (i + 1) % len(arrs)
            try:
                ref = cka(X, arrs[j], kernel=kernel, debiased=debiased)
            except ConstantRepresentationError:
                assert np.isnan(M[i, j])
            else:
                assert M[i, j] == pytest.approx(ref, abs=1e-9)
