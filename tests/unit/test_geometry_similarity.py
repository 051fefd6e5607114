"""Known-answer tests of the CKA family (ftgeo.analysis.similarity), all in float64."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from ftgeo.analysis.similarity import (
    ConstantRepresentationError, LayerCKA, cka, cka_gram, gram_linear, gram_rbf, hsic_unbiased,
    layer_cka_matrices, layer_cka_matrix, linear_cka_features, minibatch_cka, center,
)
from ftgeo.errors import ValidationError
from ftgeo.reps import InMemoryRepresentations


# ------------------------------------------------------------------ slow reference formulas
def _H(n):
    return np.eye(n) - np.ones((n, n)) / n


def ref_hsic(K, L):
    """Gretton et al. (2005): tr(K H L H) / (n-1)^2 with the explicit centring matrix."""
    n = K.shape[0]
    H = _H(n)
    return np.trace(K @ H @ L @ H) / (n - 1) ** 2


def ref_hsic_unbiased(K, L):
    """Song et al. (2012), Eq. 5, written out literally."""
    n = K.shape[0]
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0)
    np.fill_diagonal(Lt, 0)
    one = np.ones(n)
    return (np.trace(Kt @ Lt) + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (one @ Kt @ Lt @ one)) / (n * (n - 3))


def ref_rbf(X, threshold=1.0):
    d = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    return np.exp(-d / (2 * threshold ** 2 * np.median(d)))


def ref_cka(X, Y, kernel="linear", debiased=False, threshold=1.0):
    if kernel == "linear":
        K, L = X @ X.T, Y @ Y.T
    else:
        K, L = ref_rbf(X, threshold), ref_rbf(Y, threshold)
    h = ref_hsic_unbiased if debiased else ref_hsic
    return h(K, L) / np.sqrt(h(K, K) * h(L, L))


def _pair(n=60, d=8, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = X @ rng.standard_normal((d, d + 2)) + noise * rng.standard_normal((n, d + 2))
    return X, Y


# ------------------------------------------------------------------ pairwise
@pytest.mark.parametrize("kernel,debiased", [("linear", False), ("linear", True), ("rbf", False), ("rbf", True)])
def test_self_similarity_is_one_and_matches_reference(kernel, debiased):
    X, Y = _pair()
    assert cka(X, X, kernel=kernel, debiased=debiased) == pytest.approx(1.0, abs=1e-12)
    assert cka(X, Y, kernel=kernel, debiased=debiased) == pytest.approx(ref_cka(X, Y, kernel, debiased), abs=1e-10)


@pytest.mark.parametrize("kernel,debiased", [("linear", False), ("linear", True), ("rbf", False), ("rbf", True)])
def test_invariances_and_symmetry(kernel, debiased):
    X, Y = _pair(n=50, d=6, seed=1)
    base = cka(X, Y, kernel=kernel, debiased=debiased)
    Q = ortho_group.rvs(6, random_state=3)
    assert cka(X @ Q, Y, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-10)
    assert cka(7.5 * X, Y, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-10)
    assert cka(X + 13.0, Y - 4.0, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-9)
    assert cka(Y, X, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-12)


def test_feature_form_equals_gram_form_and_route_choice():
    X, Y = _pair(n=40, d=5, seed=2)           # n > d: feature form
    Xc, Yc = center(X), center(Y)
    for deb in (False, True):
        f = linear_cka_features(Xc, Yc, debiased=deb)
        g = cka_gram(gram_linear(Xc), gram_linear(Yc), debiased=deb)
        assert f == pytest.approx(g, abs=1e-12)
    Xw, Yw = _pair(n=10, d=30, seed=3)        # d > n: Gram form
    assert cka(Xw, Yw) == pytest.approx(ref_cka(Xw, Yw), abs=1e-12)


def test_hsic_unbiased_matches_song_formula():
    X, Y = _pair(n=25, d=4, seed=4)
    K, L = gram_rbf(X, 0.7), gram_linear(Y)
    assert hsic_unbiased(K, L) == pytest.approx(ref_hsic_unbiased(K, L), rel=1e-10)
    np.testing.assert_allclose(gram_rbf(X, 0.7), ref_rbf(X, 0.7), atol=1e-12)


def test_debiased_can_be_negative_and_is_not_clipped():
    vals = []
    for s in range(20):
        rng = np.random.default_rng(100 + s)
        X, Y = rng.standard_normal((12, 3)), rng.standard_normal((12, 3))
        vals.append(cka(X, Y, debiased=True))
    assert min(vals) < 0 and max(vals) <= 1


def test_small_n_refused_with_message():
    X, Y = _pair(n=3, d=2)
    with pytest.raises(ValidationError, match=r"needs at least 4 examples \(it divides by n - 3\); got n = 3"):
        cka(X, Y, debiased=True)
    X, Y = _pair(n=50, d=2)
    with pytest.raises(ValidationError, match="batch_size must be an int >= 4"):
        minibatch_cka(X, Y, batch_size=3)


def test_constant_representation_message_and_nan_in_matrix():
    X, Y = _pair(n=20, d=3)
    C = np.ones((20, 3)) * 2.5
    with pytest.raises(ConstantRepresentationError, match="Y is constant"):
        cka(X, C)
    with pytest.raises(ValidationError, match="X is constant"):
        cka(C, Y, kernel="rbf")
    with pytest.warns(RuntimeWarning, match="constant layer"):
        M = layer_cka_matrix([C, X, Y], device="numpy", progress=False)
    assert np.isnan(M[0]).all() and np.isnan(M[:, 0]).all()
    assert M[1, 2] == pytest.approx(cka(X, Y), abs=1e-12)


def test_standardize_reveals_structure_hidden_by_a_rogue_dimension():
    rng = np.random.default_rng(0)
    n, d = 2000, 40
    Z = rng.standard_normal((n, d))
    X = Z + 0.3 * rng.standard_normal((n, d))
    Y = Z @ ortho_group.rvs(d, random_state=1) + 0.3 * rng.standard_normal((n, d))
    X[:, 0] = 40.0 * rng.standard_normal(n)       # a rogue dimension unrelated to Y
    raw, std = cka(X, Y), cka(X, Y, standardize=True)
    assert raw < 0.05 and std > 0.4                # 0.007 vs 0.82: users must see both


# ------------------------------------------------------------------ minibatch
def test_minibatch_equals_debiased_with_one_batch_and_converges():
    X, Y = _pair(n=3000, d=10, seed=5, noise=2.0)
    full = cka(X, Y, debiased=True)
    assert minibatch_cka(X, Y, batch_size=3000) == pytest.approx(full, abs=1e-12)
    assert minibatch_cka(X, Y, batch_size=1000, random_state=1) == pytest.approx(full, abs=0.02)
    assert minibatch_cka(X, Y, batch_size=1000, kernel="rbf") == pytest.approx(
        minibatch_cka(X, Y, batch_size=1000, kernel="rbf"), abs=0)   # deterministic with a seed


# ------------------------------------------------------------------ layer x layer
def _layers(n, d, L, seed):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, d))
    out = []
    for _ in range(L):
        base = base @ (np.eye(d) + 0.3 * rng.standard_normal((d, d))) + 0.5 * rng.standard_normal((n, d))
        out.append(base.copy())
    return out


@pytest.mark.parametrize("kernel,debiased,n,d", [("linear", False, 40, 6), ("linear", True, 40, 6),
                                                ("linear", False, 12, 20), ("linear", True, 12, 20),
                                                ("rbf", False, 30, 5), ("rbf", True, 30, 5)])
@pytest.mark.parametrize("device", ["numpy", "cpu"])
def test_layer_matrix_matches_reference(kernel, debiased, n, d, device):
    A, B = _layers(n, d, 4, 0), _layers(n, d, 3, 1)
    M = layer_cka_matrix(A, B, kernel=kernel, debiased=debiased, device=device, progress=False)
    R = np.array([[ref_cka(a, b, kernel, debiased) for b in B] for a in A])
    np.testing.assert_allclose(M, R, atol=1e-6)
    S = layer_cka_matrix(A, kernel=kernel, debiased=debiased, device=device, progress=False)
    np.testing.assert_allclose(S, S.T, atol=0)
    np.testing.assert_allclose(np.diag(S), 1.0, atol=1e-10)


def test_bowtie_matrices_share_prepared_layers_and_estimator():
    A, B = _layers(50, 5, 3, 2), _layers(50, 5, 3, 3)
    mats = layer_cka_matrices({"pre": A, "ft": B}, progress=False)
    assert set(mats) == {("pre", "pre"), ("ft", "ft"), ("pre", "ft")}
    ra = InMemoryRepresentations(A, labels=np.zeros(50, int))
    rb = InMemoryRepresentations(B, labels=np.zeros(50, int))
    est = LayerCKA(layers=[0, -1], progress=False).fit(ra, rb)
    assert est.layers_a_ == [0, 2]
    np.testing.assert_allclose(est.matrix_, mats[("pre", "ft")][np.ix_([0, 2], [0, 2])], atol=1e-6)


def test_layer_matrix_minibatch_close_to_exact():
    A, B = _layers(600, 5, 3, 4), _layers(600, 5, 2, 5)
    exact = layer_cka_matrix(A, B, debiased=True, progress=False)
    one = layer_cka_matrix(A, B, batch_size=600, progress=False)
    np.testing.assert_allclose(one, exact, atol=1e-10)
    mb = layer_cka_matrix(A, B, batch_size=200, progress=False)
    np.testing.assert_allclose(mb, exact, atol=0.05)


def test_layer_matrix_standardize_matches_pairwise():
    A, B = _layers(80, 6, 3, 6), _layers(80, 6, 2, 7)
    A[1][:, 2] *= 50.0                                   # a rogue dimension
    M = layer_cka_matrix(A, B, standardize=True, progress=False)
    R = np.array([[cka(a, b, standardize=True) for b in B] for a in A])
    np.testing.assert_allclose(M, R, atol=1e-10)
    assert not np.allclose(M, layer_cka_matrix(A, B, progress=False), atol=1e-3)


def test_bench_script_agrees_with_per_pair_gram_baseline(capsys):
    import json
    import runpy
    from pathlib import Path
    bench = runpy.run_path(str(Path(__file__).resolve().parents[2] / "bench" / "cka.py"))
    out = bench["main"](["--n", "300", "--d", "24", "--layers", "3", "--repeats", "1", "--baseline-pairs", "0",
                         "--device", "cpu"])
    assert out["max_abs_diff"] < 1e-10 and out["baseline_extrapolated"] is False
    assert len(out["baseline_pairs_timed"]) == 9
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["name"] == "cka_layer_matrix"


def test_minibatch_reads_memory_mapped_layers_and_standardizes(tmp_path):
    A = [a.astype(np.float32) for a in _layers(400, 6, 3, 8)]
    B = [b.astype(np.float32) for b in _layers(400, 6, 2, 9)]
    paths = []
    for i, a in enumerate(A):
        np.save(tmp_path / f"a{i}.npy", a)
        paths.append(tmp_path / f"a{i}.npy")
    mm = [np.load(p, mmap_mode="r") for p in paths]
    ref = layer_cka_matrix([a.astype(np.float64) for a in A], B, batch_size=100, progress=False)
    np.testing.assert_allclose(layer_cka_matrix(mm, B, batch_size=100, progress=False), ref, atol=1e-12)
    std_one_batch = layer_cka_matrix(A, B, batch_size=400, standardize=True, progress=False)
    std_exact = layer_cka_matrix(A, B, debiased=True, standardize=True, progress=False)
    np.testing.assert_allclose(std_one_batch, std_exact, atol=1e-9)
